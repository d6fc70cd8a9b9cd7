"""`flask understanding train [PATH]`, `evaluate LINES`, `read TEXT`: the dialogue-act model's commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

understanding_cli = AppGroup("understanding", help="Train, measure and try the dialogue-act recogniser.")
DEFAULT_PACKS = Path(__file__).resolve().parent.parent / "scenarios" / "packs"


def _packs(path: Path):
    from scenarios.loader import PackError, find_packs, load_pack

    folders = find_packs(path)
    if not folders:
        raise click.ClickException(f"{path}: no pack.yaml here or in its sub-folders")
    try:
        return [load_pack(f) for f in folders]
    except PackError as e:
        raise click.ClickException(str(e)) from e


@understanding_cli.command("train")
@click.argument("path", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--seed", default=0, show_default=True, help="Training is deterministic for a seed.")
def train_cmd(path: Path | None, seed: int):
    """Train each pack's classifier on its understanding/*.yaml examples; write <pack>/understanding/model.npz."""
    from .classifier import train
    from .examples import ExamplesError, training_examples
    from .lexicon import MoveRecogniser
    from .store import embedder_for_app, save_model

    embedder = embedder_for_app(current_app)
    for pack in _packs(path or DEFAULT_PACKS):
        try:
            examples = training_examples(pack.path, pack.lang, pack.info.acts_also_learned_from)
        except ExamplesError as e:
            raise click.ClickException(str(e)) from e
        if not examples:
            click.echo(f"{pack.lang}: no examples in {pack.path / 'understanding'}: skipped")
            continue
        try:
            model = train(examples, pack.lang, embedder, MoveRecogniser(pack.info), seed=seed)
        except ValueError as e:
            raise click.ClickException(f"{pack.lang}: {e}") from e
        out = save_model(pack.path, model)
        cv = model.meta["cv_f1"]
        macro = sum(cv.values()) / len(cv)
        click.echo(
            f"{pack.lang}: {len(examples)} examples -> {out} (version {model.version}, {embedder.name});"
            f" cross-validated macro-F1 on the examples {macro:.3f}"
        )


@understanding_cli.command("evaluate")
@click.argument("lines", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--packs", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True, help='Print {"zh_CN": {"macro_f1", "by_tag", "n"}, "en": ...}.')
@click.option("--errors", is_flag=True, help="List every line read wrongly.")
def evaluate_cmd(lines: Path, packs: Path | None, as_json: bool, errors: bool):
    """Measure recognition on labelled lines (LINES: a folder of <lang>.yaml files)."""
    from .evaluate import EvaluationError, evaluate, format_report, load_lines, summary_json
    from .reader import Reader
    from .store import ModelMissing, embedder_for_app, load_model_file

    try:
        items = load_lines(lines)
    except EvaluationError as e:
        raise click.ClickException(str(e)) from e
    loaded = {p.lang: p for p in _packs(packs or DEFAULT_PACKS)}
    scenarios = {sc.id: sc for p in loaded.values() for sc in p.scenarios}
    embedder = embedder_for_app(current_app)
    readers = {}

    def reader_for(lang: str):
        if lang not in readers:
            if lang not in loaded:
                raise click.ClickException(f"no {lang} pack to read {lang} lines with")
            try:
                readers[lang] = Reader(loaded[lang].info, load_model_file(loaded[lang].path), embedder)
            except ModelMissing as e:
                raise click.ClickException(str(e)) from e
        return readers[lang]

    report = evaluate(reader_for, items, scenarios.get)
    if as_json:
        click.echo(json.dumps(summary_json(report), ensure_ascii=False))
    else:
        click.echo(format_report(report, show_errors=errors))


@understanding_cli.command("read")
@click.argument("text")
@click.option("--lang", default="zh_CN", show_default=True)
@click.option("--before", default=None, help="The customer's previous message.")
def read_cmd(text: str, lang: str, before: str | None):
    """Read one agent message with the pack's model and print its acts and evidence."""
    from .reader import Reader
    from .store import ModelMissing, embedder_for_app, load_model_file

    pack = next((p for p in _packs(DEFAULT_PACKS) if p.lang == lang), None)
    if pack is None:
        raise click.ClickException(f"no {lang} pack")
    try:
        reader = Reader(pack.info, load_model_file(pack.path), embedder_for_app(current_app))
    except ModelMissing as e:
        raise click.ClickException(str(e)) from e
    json.dump(reader.read(text, None, before).as_dict(), sys.stdout, ensure_ascii=False, indent=1)
    click.echo()


def register(app) -> None:
    app.cli.add_command(understanding_cli)
