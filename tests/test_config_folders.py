"""Found 11 (issue 21): generated models went into the install tree. ``optimized_dir`` and
``voices_dir`` defaulted to folders next to the package, so a wheel's optimizer wrote hundreds of
MB into site-packages. Outside a source checkout they are now in the platform's data folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import macbot
from macbot.config import PROJECT_ROOT, AppConfig, default_folder, in_checkout

PRINT_DEFAULTS = (
    "import json, macbot.config as c; t = c.AppConfig().tts; "
    "print(json.dumps([str(t.voices_dir), str(t.optimized_dir), c.__file__]))"
)


def test_the_defaults_point_at_platform_folders_outside_a_checkout(tmp_path):
    """The package copied as a wheel lays it out (``site-packages/macbot``, no pyproject.toml),
    run by a real interpreter: both defaults are under $XDG_DATA_HOME/macbot."""
    site = tmp_path / "site-packages"
    shutil.copytree(
        Path(macbot.__file__).parent, site / "macbot", ignore=shutil.ignore_patterns("__pycache__")
    )
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_DATA_HOME": str(data)}
    env.pop("MACBOT_CONFIG", None)
    out = subprocess.run(
        [sys.executable, "-c", PRINT_DEFAULTS],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=True,
    ).stdout
    voices, optimized, module = json.loads(out)
    assert Path(module).parent.parent == site  # the copy ran, not the checkout
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support" / "MacBot"
    else:
        base = data / "macbot"
    assert (Path(voices), Path(optimized)) == (base / "voices", base / "optimized")
    assert not str(optimized).startswith(str(site))


def test_a_checkout_keeps_its_folders():
    """`make run` in a source checkout: piper_voices/ and optimized_models/ beside the package."""
    assert in_checkout(PROJECT_ROOT)
    tts = AppConfig().tts
    assert tts.voices_dir == PROJECT_ROOT / "piper_voices"
    assert tts.optimized_dir == PROJECT_ROOT / "optimized_models"


def test_default_folder_follows_where_the_package_is(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    installed = tmp_path / "site-packages"
    installed.mkdir()
    assert default_folder("optimized_models", "optimized", installed) == (
        tmp_path / "data" / "macbot" / "optimized"
    )
    (installed / "pyproject.toml").write_text("[project]\nname = 'macbot-tts'\n")
    assert default_folder("optimized_models", "optimized", installed) == (
        installed / "optimized_models"
    )
