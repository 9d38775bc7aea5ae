"""Print the README's configuration and CLI references from the code itself.

`python scripts/reference_docs.py config` prints a Markdown table of every setting (key, default,
meaning) from the pydantic models; `... cli` prints every command's usage. The README embeds the
output, and `tests/foundation/test_readme.py` fails when a setting or command is missing there.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import BaseModel

from agent import config


def _default(field: Any) -> str:
    if field.is_required():
        return "(required)"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "off"
    if isinstance(value, BaseModel):
        return ""
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return f"{len(value)} rules (see below)"
    if isinstance(value, dict) and len(str(value)) > 60:
        return "see below"
    text = repr(value) if isinstance(value, str) else str(value)
    return text.replace("|", "\\|")


def settings_rows(model: type[BaseModel] = config.Settings, prefix: str = "") -> list[tuple[str, str, str]]:
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        nested = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        optional = type(None) in inner
        if nested is not None and not optional and not str(annotation).startswith("list"):
            rows.extend(settings_rows(nested, key + "."))
            continue
        rows.append((key, _default(field), (field.description or "").replace("|", "\\|")))
    return rows


def config_markdown() -> str:
    lines = ["| key | default | meaning |", "|---|---|---|"]
    lines += [f"| `{k}` | {d} | {m} |" for k, d, m in settings_rows()]
    return "\n".join(lines)


def cli_markdown() -> str:
    from agent.cli import build_parser

    parser = build_parser()
    out = ["```", parser.format_usage().strip(), "```", ""]
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():
        out.append(f"- `bngsync {name}` — {p.description}")
        for action in p._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                helps = {c.dest: c.help for c in action._choices_actions}
                for sname in action.choices:
                    out.append(f"  - `bngsync {name} {sname}` — {helps.get(sname, '')}")
    return "\n".join(out)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "config"
    print(config_markdown() if what == "config" else cli_markdown())
