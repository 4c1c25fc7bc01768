"""What a phrase's cache key covers: the spoken form, the voice (per family), the engine, the
model file's hash and every option that shapes the audio."""

from __future__ import annotations

from .cache import cache_key
from .engines import Engine, SynthesisOptions
from .text import TextOptions, Utterance


def voice_key(engine: Engine) -> str:
    """The voice part of a cache key: a Piper voice's name (as before families); a Kokoro
    voice's family, name (a blend's canonical name, with its weights) and voices file."""
    if engine.family == "piper":
        return engine.voice.name
    return f"{engine.family}:{engine.voice.name}@{engine.voice.config_path}"


def phrase_key(
    utterance: Utterance,
    engine: Engine,
    model_sha256: str,
    options: SynthesisOptions,
    text_options: TextOptions,
) -> str:
    """The cache key of ``utterance`` spoken by ``engine`` (its model hashing to
    ``model_sha256``) with ``options`` after the front end's ``text_options``."""
    return cache_key(
        utterance.text,
        voice_key(engine),
        engine.engine_type,
        model_sha256,
        (*options.key(), utterance.key(), text_options.key()),
    )
