"""Retention: offer catalog, next best action under a budget, uplift, win-back, care programs."""
