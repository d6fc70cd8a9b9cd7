"""docs/events.md, the catalogue of what a recording holds, written from the event types' schemas.

    .venv/bin/flask --app app events catalogue           # rewrite docs/events.md
    .venv/bin/flask --app app events catalogue --check   # exit 1 when docs/events.md is not current

tests/contacts/test_event_catalogue.py fails when the file and the schemas disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from .event_types import EventType, registered

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "events.md"

HEADER = """# Events: what a recording holds

Generated from the event types' schemas by `flask --app app events catalogue`; do not edit by hand
(tests/contacts/test_event_catalogue.py checks it is current).

A contact's recording is its ordered events. Every event has these columns:

| column | meaning |
|---|---|
| `id` | the event's row id |
| `contact_id` | the contact it belongs to |
| `seq` | its place in the contact's recording (1, 2, 3 ... with no gaps) |
| `type` | one of the types below |
| `actor` | who did it: agent, customer, system, lead, simulator or audience |
| `actor_id` | the user id of a staff actor, when there is one |
| `ts` | when, in sandbox-clock seconds since the epoch |
| `client_id` | the sender's id for a resend-safe message (else empty) |
| `text` | what was written or said, where the type carries text |
| `data` | the type's fields, below; keys not listed are refused when the event is appended |

A field marked *optional* may be missing or null. The export of a recording (`/contacts/<id>/export.json`) holds
the contact and these events in order.
"""


def _type_name(annotation) -> str:
    text = getattr(annotation, "__name__", None) if not getattr(annotation, "__args__", None) else None
    if text is None:
        text = repr(annotation)
    text = re.sub(r"\btyping\.", "", text)
    text = text.replace("NoneType", "None").replace(" | None", "").replace("None | ", "")
    return text.replace("|", "or")


def _fields(et: EventType) -> list[str]:
    rows = []
    for name, field in et.data.model_fields.items():
        key = field.alias or name
        required = field.is_required()
        rows.append(f"| `{key}` | {_type_name(field.annotation)} | {'' if required else 'optional'} |")
    return rows


def _package(source: str) -> str:
    return source.rsplit(".", 1)[0]


def render_catalogue() -> str:
    """The catalogue's Markdown, from every registered event type (grouped by the package that owns it)."""
    by_package: dict[str, list[EventType]] = {}
    for _, (et, source) in registered().items():
        by_package.setdefault(_package(source), []).append(et)
    out = [HEADER]
    out.append("## Contents\n")
    for package, types in by_package.items():
        out.append(f"- `{package}`: " + ", ".join(f"`{et.name}`" for et in types))
    out.append("")
    for package, types in by_package.items():
        out.append(f"## {package}\n")
        for et in types:
            out.append(f"### `{et.name}`\n")
            out.append(et.doc + "\n")
            text = {"none": "no text", "optional": "text optional", "required": "text required"}[et.text]
            out.append(f"Actor: {', '.join(sorted(et.actors))}. {text[0].upper() + text[1:]}.\n")
            rows = _fields(et)
            if rows:
                out.append("| field | type | |\n|---|---|---|")
                out.extend(rows)
                out.append("")
            else:
                out.append("No data fields.\n")
    return "\n".join(out).rstrip() + "\n"


events_cli = AppGroup("events", help="The event types' schemas and their catalogue (docs/events.md).")


@events_cli.command("catalogue")
@click.option("--check", is_flag=True, help="only check that docs/events.md is current (exit 1 if not)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=DOC_PATH, show_default=True)
def catalogue_command(check: bool, out: Path) -> None:
    """Write the event catalogue from the schemas (or check it)."""
    text = render_catalogue()
    if check:
        current = out.read_text(encoding="utf-8") if out.exists() else ""
        if current != text:
            click.echo(f"{out} is not current: run flask --app app events catalogue", err=True)
            sys.exit(1)
        click.echo(f"{out} is current ({len(registered())} event types)")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out} ({len(registered())} event types)")
