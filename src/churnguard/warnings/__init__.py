"""Early warning: rules, levels, triage, deadlines, worklists and pushes to the team."""
