"""Render the settings reference (docs/configuration.md) from the Settings classes."""

from __future__ import annotations

from pydantic import BaseModel

from . import Settings

__all__ = ["render_reference"]


def _fmt(value: object) -> str:
    if isinstance(value, tuple | list):
        return "[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "(unset)"
    return str(value).lower() if isinstance(value, bool) else str(value)


def render_reference() -> str:
    """Markdown describing every section and key of ``churnguard.toml`` with its default."""
    lines = [
        "# Configuration reference",
        "",
        "Each workspace holds a `churnguard.toml`; every key is optional and falls back to the",
        "default below. Unknown keys are errors, so typos are caught. Generated from",
        "`churnguard.config` by `python -m churnguard.config.reference` — do not edit by hand.",
        "",
    ]
    for name, field in Settings.model_fields.items():
        section = field.default
        if not isinstance(section, BaseModel):
            continue
        doc = (type(section).__doc__ or "").strip().splitlines()
        lines += [f"## `[{name}]`", ""]
        if doc:
            lines += [doc[0], ""]
        lines += ["| key | default | meaning |", "|---|---|---|"]
        for key, sub in type(section).model_fields.items():
            meaning = (sub.description or "").replace("|", "\\|")
            lines.append(f"| `{key}` | `{_fmt(getattr(section, key))}` | {meaning} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - regeneration entry point
    import sys

    sys.stdout.write(render_reference())
