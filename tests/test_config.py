"""Config: typed, validated once; errors name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from macbot import config as config_module
from macbot.config import AppConfig, ConfigLocation, load_config, locate_config
from macbot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "macbot.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_config_file_loads_cleanly():
    config = load_config(ROOT / "config" / "macbot.yaml")
    assert config.warnings == ()
    assert config.server.host == "127.0.0.1" and config.server.port == 8123
    assert config.tts.voice == "auto" and config.tts.prefer == ("kokoro", "piper")
    assert config.tts.voices_dir == ROOT / "piper_voices"
    perf = config.performance
    assert (perf.tts_cache_size, perf.tts_cache_enabled) == (100, True)
    assert perf.tts_parallel_processing and perf.tts_optimize_for_speed


def test_no_file_gives_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("MACBOT_CONFIG", raising=False)
    monkeypatch.setattr(config_module, "CHECKOUT_CONFIG", tmp_path / "absent.yaml")
    config = load_config(None)
    assert config == AppConfig() and config.source is None


def test_search_order_env_then_user_folder_then_checkout(tmp_path, monkeypatch):
    """Issue 10: the file users edit is the one in force, and `locate_config` says which."""
    monkeypatch.delenv("MACBOT_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(
        config_module, "CHECKOUT_CONFIG", write(tmp_path, "server:\n  port: 9001\n")
    )
    assert locate_config().how == "checkout" and load_config().server.port == 9001
    user = tmp_path / "xdg" / "macbot" / "macbot.yaml"
    user.parent.mkdir(parents=True)
    user.write_text("server:\n  port: 9002\n")
    assert locate_config() == ConfigLocation(user.resolve(), "user config folder")
    assert load_config().server.port == 9002 and load_config().source == user.resolve()
    env = tmp_path / "env.yaml"
    env.write_text("server:\n  port: 9003\n")
    monkeypatch.setenv("MACBOT_CONFIG", str(env))
    assert load_config().server.port == 9003
    assert load_config(user).server.port == 9002  # --config wins over everything


def test_a_missing_macbot_config_file_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("MACBOT_CONFIG", str(tmp_path / "gone.yaml"))
    with pytest.raises(ConfigError, match=r"^\$MACBOT_CONFIG: config file not found"):
        load_config()


def test_unknown_key_suggests_the_closest_one(tmp_path):
    config = load_config(write(tmp_path, "models:\n  tts:\n    sped: 1.2\n"))
    assert any("did you mean models.tts.speed?" in w for w in config.warnings)
    config = load_config(write(tmp_path, "models:\n  tts:\n    zzz: 1\n"))
    assert not any("did you mean" in w for w in config.warnings)


def test_a_config_that_is_not_utf8_is_a_config_error(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("models:\n  tts:\n    voice: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        load_config(path)
    assert str(path) in str(info.value) and info.value.hint


def test_env_var_chooses_file(tmp_path, monkeypatch):
    path = write(tmp_path, "server:\n  port: 9000\n")
    monkeypatch.setenv("MACBOT_CONFIG", str(path))
    assert load_config(None).server.port == 9000


@pytest.mark.parametrize(
    ("yaml_text", "key", "fragment"),
    [
        ("models:\n  tts:\n    speed: fast\n", "models.tts.speed", "expected a number"),
        ("models:\n  tts:\n    speed: 9\n", "models.tts.speed", "out of range"),
        ("server:\n  port: 70000\n", "server.port", "out of range"),
        ("server:\n  port: '8123'\n", "server.port", "expected an integer"),
        (
            "voice_assistant:\n  performance:\n    tts_cache_enabled: 'yes'\n",
            "voice_assistant.performance.tts_cache_enabled",
            "expected true or false",
        ),
        (
            "voice_assistant:\n  performance:\n    tts_cache_size: -1\n",
            "voice_assistant.performance.tts_cache_size",
            "out of range",
        ),
        (
            "models:\n  tts:\n    piper:\n      voice_path: nowhere/voice.onnx\n",
            "models.tts.piper.voice_path",
            "file not found",
        ),
        ("models:\n  tts: [1, 2]\n", "models.tts", "expected a mapping"),
        ("models:\n  tts:\n    voice: ''\n", "models.tts.voice", "non-empty string"),
    ],
)
def test_errors_name_key_and_file(tmp_path, yaml_text, key, fragment):
    path = write(tmp_path, yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert info.value.key == key
    assert message.startswith(key)
    assert str(path) in message
    assert fragment in message


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, "server:\n  port: [8123\n")
    expected = r"invalid YAML at line \d+, column \d+: expected ','"
    with pytest.raises(ConfigError, match=expected) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yaml")


def test_unknown_key_is_a_warning(tmp_path, caplog):
    path = write(tmp_path, "models:\n  tts:\n    vioce: x\nextra: 1\n")
    config = load_config(path)
    assert any("models.tts.vioce" in w for w in config.warnings)
    assert any(w.startswith("unknown config key extra") for w in config.warnings)
    assert "models.tts.vioce" in caplog.text


def test_relative_paths_resolve_against_the_file_and_tilde_expands(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    voice = tmp_path / "voices" / "v.onnx"
    voice.parent.mkdir()
    voice.write_bytes(b"x")
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "conf" / "macbot.yaml"
    path.write_text(
        "models:\n  tts:\n    voices_dir: ~/voices\n"
        "    piper:\n      voice_path: ../voices/v.onnx\n"
    )
    config = load_config(path)
    assert config.tts.piper.voice_path == voice
    assert config.tts.voices_dir == tmp_path / "voices"


def test_missing_optimized_model_is_a_warning_not_an_error(tmp_path):
    path = write(tmp_path, "models:\n  tts:\n    piper:\n      quantized_path: q.onnx\n")
    config = load_config(path)
    assert config.tts.piper.quantized_path == tmp_path / "q.onnx"
    assert any("models.tts.piper.quantized_path" in w for w in config.warnings)


def test_seed_guide_config_shape_is_accepted(tmp_path):
    voice = tmp_path / "model.onnx"
    voice.write_bytes(b"x")
    path = write(
        tmp_path,
        f"""
models:
  tts:
    piper:
      voice_path: {voice}
      quantized_path: {tmp_path}/piper_dynamic_quantized.onnx
      coreml_path: {tmp_path}/piper_model.mlpackage
voice_assistant:
  performance:
    tts_cache_size: 100
    tts_cache_enabled: true
    tts_parallel_processing: true
    tts_optimize_for_speed: true
""",
    )
    config = load_config(path)
    assert config.tts.piper.voice_path == voice
    assert config.tts.piper.coreml_path.name == "piper_model.mlpackage"
