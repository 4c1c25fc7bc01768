"""`macbot normalize`: the spoken form of a text, in a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from macbot.errors import ExitCode

MACBOT = [sys.executable, "-m", "macbot"]


def run(*args: str, stdin: str | None = None):
    return subprocess.run(
        [*MACBOT, *args], input=stdin, capture_output=True, text=True, timeout=120, env=os.environ
    )


def test_prints_the_spoken_form(tmp_path):
    config = tmp_path / "macbot.yaml"
    config.write_text("models:\n  tts:\n    text:\n      emoji: name\n", encoding="utf-8")
    done = run("normalize", "**Sure!** Meet at 5:30 pm 😀", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Sure! Meet at five thirty P M grinning face"


def test_options_json_and_stdin():
    done = run(
        "normalize",
        "-",
        "-O",
        "currency=false",
        "-O",
        "date_order=dmy",
        "--json",
        stdin="It costs $5 on 03/04/2025\n",
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["text"] == "It costs $5 on the third of April twenty twenty five"
    assert body["options"]["currency"] is False and body["language"] == "en-us"
    assert run("normalize", "**x**", "--off").stdout.strip() == "**x**"


def test_errors_exit_with_usage():
    bad_ssml = run("normalize", "<speak>Hi</speek>")
    assert bad_ssml.returncode == ExitCode.USAGE
    assert "line 1, column" in bad_ssml.stderr
    bad_option = run("normalize", "Hi", "-O", "emoji")
    assert bad_option.returncode == ExitCode.USAGE and "NAME=VALUE" in bad_option.stderr
    assert run("normalize", "Hi", "-O", "nope=1").returncode == ExitCode.USAGE
