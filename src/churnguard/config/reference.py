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


def _section(name: str, section: BaseModel, lines: list[str]) -> None:
    doc = (type(section).__doc__ or "").strip().splitlines()
    lines += [f"## `[{name}]`", ""]
    if doc:
        lines += [doc[0], ""]
    nested: list[tuple[str, BaseModel]] = []
    lines += ["| key | default | meaning |", "|---|---|---|"]
    for key, sub in type(section).model_fields.items():
        value = getattr(section, key)
        if isinstance(value, BaseModel):
            nested.append((f"{name}.{key}", value))
            continue
        if isinstance(value, tuple) and value and isinstance(value[0], BaseModel):
            shown = "; ".join(
                ", ".join(f"{k}={_fmt(v)}" for k, v in item.model_dump(exclude_none=True).items())
                for item in value
            )
            lines.append(f"| `{key}` | {shown} | {(sub.description or '').replace('|', '/')} |")
            continue
        meaning = (sub.description or "").replace("|", "\\|")
        lines.append(f"| `{key}` | `{_fmt(value)}` | {meaning} |")
    lines.append("")
    for sub_name, sub_section in nested:
        _section(sub_name, sub_section, lines)


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
        if isinstance(field.default, BaseModel):
            _section(name, field.default, lines)
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - regeneration entry point
    import sys

    sys.stdout.write(render_reference())
