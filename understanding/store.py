"""Where trained models live and how a process gets a Reader.

``flask understanding train`` writes ``<pack>/understanding/model.npz`` beside the examples, so the model is
versioned with the pack (a regrade on the same pack gives the same result). ``flask content load`` copies it
into the database (``understanding_models``), from which every web process and worker reads it; a reader is
cached per app and rebuilt when the pack or the model version changes.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from flask import current_app

from .classifier import ActModel
from .embedding import get_embedder
from .reader import Reader

MODEL_FILE = "model.npz"
_EXT = "kefu_readers"
_lock = threading.Lock()


class ModelMissing(RuntimeError):
    """No trained model for a language (the message says which command makes one)."""


def model_path(pack_dir: str | Path) -> Path:
    return Path(pack_dir) / "understanding" / MODEL_FILE


def save_model(pack_dir: str | Path, model: ActModel) -> Path:
    path = model_path(pack_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.dump())
    return path


def load_model_file(pack_dir: str | Path) -> ActModel:
    path = model_path(pack_dir)
    if not path.is_file():
        raise ModelMissing(f"{path}: no understanding model; run `flask understanding train {Path(pack_dir)}`")
    try:
        return ActModel.load(path.read_bytes())
    except ModelMissing:
        raise
    except Exception as e:
        raise ModelMissing(f"{path}: unreadable understanding model ({e}); run `flask understanding train`") from e


def embedder_for_app(app=None):
    app = app or current_app
    return get_embedder(app.config.get("KEFU_EMBEDDINGS", "use"), app.config.get("KEFU_EMBEDDINGS_MODEL", ""))


def _db_version(lang: str) -> str | None:
    """Only the stored model's version: the blob (megabytes) is read when the version changes, not per read."""
    from extensions import db

    from .models import UnderstandingModel

    return db.session.scalar(db.select(UnderstandingModel.version).where(UnderstandingModel.lang == lang))


def _db_blob(lang: str) -> bytes:
    from extensions import db

    from .models import UnderstandingModel

    return db.session.scalar(db.select(UnderstandingModel.data).where(UnderstandingModel.lang == lang))


_shipped: dict[str, tuple[float, tuple[str, bytes]]] = {}


def _shipped_model(lang: str) -> tuple[str, bytes] | None:
    """The model shipped with the sandbox's own pack of a language: a loaded pack without understanding data
    (a centre's small pack, a test's pack) reads with its language's default model, never with keywords."""
    path = model_path(Path(__file__).resolve().parent.parent / "scenarios" / "packs" / lang)
    if not path.is_file():
        return None
    mtime = path.stat().st_mtime
    hit = _shipped.get(lang)
    if hit is None or hit[0] != mtime:  # read and hashed once per file version, not per reading
        blob = path.read_bytes()
        hit = _shipped[lang] = (mtime, ("shipped:" + hashlib.sha256(blob).hexdigest()[:12], blob))
    return hit[1]


def reader_for(pack) -> Reader:
    """The app's Reader for a loaded pack (PackInfo), from the model stored by ``flask content load``."""
    cache = current_app.extensions.setdefault(_EXT, {})
    version = _db_version(pack.lang)
    shipped = None
    if version is None:
        shipped = _shipped_model(pack.lang)
        if shipped is None:
            raise ModelMissing(
                f"no understanding model is loaded for {pack.lang}:"
                " run `flask understanding train` then `flask content load`"
            )
        version = shipped[0]
    hit = cache.get(pack.lang)
    if hit is not None and hit[0] is pack and hit[1] == version:
        return hit[2]
    blob = shipped[1] if shipped else _db_blob(pack.lang)
    with _lock:
        reader = Reader(pack, ActModel.load(blob), embedder_for_app())
        cache[pack.lang] = (pack, version, reader)
    return reader


def reader_for_lang(lang: str) -> Reader:
    """The app's Reader for a language's loaded pack."""
    from scenarios.registry import get_pack

    pack = get_pack(lang)
    if pack is None:
        raise ModelMissing(f"no content pack is loaded for {lang}: run `flask content load`")
    return reader_for(pack)


def store_model(lang: str, model_blob: bytes, version: str) -> bool:
    """Upsert a language's model into the database (called by the content loader). True when it changed."""
    from clock import clock
    from extensions import db

    from .models import UnderstandingModel

    row = db.session.get(UnderstandingModel, lang)
    if row is not None and row.version == version:
        return False
    if row is None:
        db.session.add(UnderstandingModel(lang=lang, version=version, data=model_blob, updated_at=clock.timestamp()))
    else:
        row.version, row.data, row.updated_at = version, model_blob, clock.timestamp()
    return True


def pack_hook(pack, write: bool) -> None:
    """The content loader's hook (scenarios.loader.add_pack_hook): a pack with examples must carry a model
    trained on exactly those examples; on load the model is stored for every process."""
    from scenarios.loader import PackError

    from .examples import ExamplesError, examples_digest, training_examples
    from .lexicon import MoveRecogniser

    try:
        examples = training_examples(pack.path, pack.lang, pack.info.acts_also_learned_from)
    except ExamplesError as e:
        raise PackError([str(e)]) from e
    if not examples and not model_path(pack.path).is_file():
        return  # a pack without understanding data (a centre's small pack): its chats cannot be simulated
    try:
        model = load_model_file(pack.path)
    except ModelMissing as e:
        raise PackError([str(e)]) from e
    if model.meta.get("examples_digest") != examples_digest(examples):
        raise PackError(
            [
                f"{model_path(pack.path)}: trained on other examples than {pack.path / 'understanding'} holds now;"
                f" run `flask understanding train {pack.path}`"
            ]
        )
    lexicon = model.meta.get("lexicon_digest")
    if lexicon is not None and lexicon != MoveRecogniser(pack.info).digest():
        # The lexicon's hits are features: a model read with another lexicon than its own reads differently
        # under the same version, and a regrade would not give the same result.
        raise PackError(
            [
                f"{model_path(pack.path)}: trained with another move lexicon than {pack.path / 'pack.yaml'} holds"
                f" now; run `flask understanding train {pack.path}`"
            ]
        )
    if write:
        store_model(pack.lang, model_path(pack.path).read_bytes(), model.version)
