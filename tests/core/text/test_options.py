"""Options per request and in the config: ``normalize`` on /speak, Kokoro-FastAPI's
``normalization_options`` names, ``models.tts.text``."""

from __future__ import annotations

import pytest
from conftest import make_config

from macbot.core.text import KOKORO_NAMES, TextOptions
from macbot.errors import ConfigError, InvalidType, UsageError


def test_defaults_come_from_the_config(tmp_path):
    config = make_config(tmp_path, models__tts__text={"emoji": "name", "urls": False})
    options = TextOptions.from_config(config.tts.text)
    assert options.emoji == "name" and options.urls is False and options.lexicon is False


def test_request_overrides_single_options():
    base = TextOptions()
    assert base.with_request(None) is base
    assert base.with_request(False).enabled is False
    changed = base.with_request({"emoji": "name", "numbers": False})
    assert (changed.emoji, changed.numbers, changed.urls) == ("name", False, True)


@pytest.mark.parametrize(("kokoro", "ours"), sorted(KOKORO_NAMES.items()))
def test_kokoro_names_set_our_switches(kokoro, ours):
    assert getattr(TextOptions().with_request({kokoro: False}, "normalization_options"), ours) is (
        False
    )


@pytest.mark.parametrize(
    ("value", "error", "param"),
    [
        ("yes", InvalidType, "normalize"),
        ({"emoji": "loud"}, UsageError, "normalize.emoji"),
        ({"numbers": "no"}, InvalidType, "normalize.numbers"),
        ({"bogus": True}, UsageError, "normalize.bogus"),
    ],
)
def test_bad_request_options_name_the_field(value, error, param):
    with pytest.raises(error) as caught:
        TextOptions().with_request(value, "normalize")
    assert caught.value.param == param


def test_the_cache_key_changes_with_every_option():
    keys = {TextOptions().key()}
    for name, value in [("emoji", "name"), ("numbers", False), ("date_order", "dmy")]:
        keys.add(TextOptions().with_request({name: value}).key())
    assert len(keys) == 4


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ({"emoji": "shout"}, "models.tts.text.emoji"),
        ({"code_blocks": 3}, "models.tts.text.code_blocks"),
        ({"lexicon": "missing.yaml"}, "models.tts.text.lexicon"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, fragment):
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, models__tts__text=text)
    assert fragment in str(caught.value)
