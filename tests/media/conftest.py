"""Media fixtures: the packaged speech recogniser, loaded once per test session."""

import pytest


@pytest.fixture
def whisper():
    """The packaged speech recogniser (its model loaded once per test session)."""
    from tests.asr_support import whisper as load

    return load()
