"""Changing a warning rule in the workspace's rules.yaml: validated, then written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..errors import InputError, NotFoundError
from ..warnings.rules import load_rules

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["change_rule"]


def change_rule(settings: Settings, code: str, change: dict[str, Any]) -> dict[str, Any]:
    """Apply ``change`` (muted, severity, min_members, conditions[index].value/factor) to a rule.

    The new file is validated by the rules loader before it replaces the old one,
    so an invalid change leaves the workspace untouched.

    Returns
    -------
    dict
        ``{"code", "before", "after"}`` with the changed fields' old and new values.

    Raises
    ------
    NotFoundError
        No rule ``code``.
    InputError
        The change does not fit the rule (a condition index it lacks, a field of
        another kind of rule) or makes the rules invalid.
    """
    load_rules(workspace=settings.workspace)  # creates rules.yaml from the defaults if needed
    path = settings.workspace / settings.warnings.rules_file
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rules = data.get("rules") or []
    rule = next((r for r in rules if isinstance(r, dict) and r.get("code") == code), None)
    if rule is None:
        known = ", ".join(str(r.get("code")) for r in rules if isinstance(r, dict))
        raise NotFoundError(f"no rule {code}; the rules are {known}")
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key in ("muted", "severity", "min_members"):
        if change.get(key) is not None:
            if key == "min_members" and rule.get("kind") != "group_collective":
                raise InputError(f"{code} is not a group rule: min_members does not apply")
            before[key] = rule.get(key, False if key == "muted" else None)
            rule[key] = change[key]
            after[key] = change[key]
    conds_key = "signs" if rule.get("kind") == "group_collective" else "when"
    for c in change.get("conditions") or ():
        conds = rule.get(conds_key) or []
        i = int(c["index"])
        if i >= len(conds):
            raise InputError(f"{code} has {len(conds)} condition(s); index {i} does not exist")
        for field in ("value", "factor"):
            if c.get(field) is not None:
                if field == "value" and "value" not in conds[i]:
                    raise InputError(
                        f"condition {i} of {code} compares with "
                        f"{'a list' if 'in' in conds[i] else 'another column'}: it has no value"
                    )
                before[f"conditions.{i}.{field}"] = conds[i].get(field)
                conds[i][field] = c[field]
                after[f"conditions.{i}.{field}"] = c[field]
    if not after:
        raise InputError("nothing to change: give muted, severity, min_members or conditions")
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rules-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        try:
            load_rules(Path(tmp))
        except InputError as exc:
            raise InputError(f"the change makes the rules invalid: {exc}") from None
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return {"code": code, "before": before, "after": after}
