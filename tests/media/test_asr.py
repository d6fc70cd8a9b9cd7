"""The optional speech-recogniser registry (media.asr): it says plainly when nothing can run."""

import importlib.util

import pytest

from media import asr


def test_registry_lists_vosk_with_a_reason(monkeypatch, tmp_path):
    """Without the vosk package or a model folder the registry says which is missing, and no recogniser is made."""
    monkeypatch.delenv("KEFU_ASR_MODEL", raising=False)
    monkeypatch.delenv("KEFU_ASR_MODEL_EN", raising=False)
    reasons = asr.available_recognisers("en")
    assert set(reasons) == {"vosk"}
    if importlib.util.find_spec("vosk") is None:
        assert reasons["vosk"] == "the vosk package is not installed"
    else:
        assert "no model" in reasons["vosk"]
        monkeypatch.setenv("KEFU_ASR_MODEL", str(tmp_path / "missing"))
        assert "does not exist" in asr.available_recognisers("en")["vosk"]
    monkeypatch.delenv("KEFU_ASR_MODEL", raising=False)
    assert asr.make_recogniser("en") is None


def test_model_path_per_language(monkeypatch):
    """A language's own variable wins over the shared one."""
    monkeypatch.setenv("KEFU_ASR_MODEL", "/models/any")
    monkeypatch.setenv("KEFU_ASR_MODEL_ZH_CN", "/models/zh")
    assert asr.model_path("zh_CN") == "/models/zh"
    assert asr.model_path("en") == "/models/any"


def test_unavailable_adapter_refuses_to_start(monkeypatch):
    """Building the Vosk adapter where it cannot run is a clear error, not a silent fake."""
    monkeypatch.delenv("KEFU_ASR_MODEL", raising=False)
    monkeypatch.delenv("KEFU_ASR_MODEL_EN", raising=False)
    with pytest.raises(RuntimeError, match="vosk recogniser unavailable"):
        asr.VoskRecogniser("en")
