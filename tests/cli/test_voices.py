"""``macbot voices add|download|remove`` (issue 19 item 6): real voice files through real
onnxruntime, real subprocesses, and a real HTTP server on 127.0.0.1 laid out as the
rhasspy/piper-voices catalogue and serving the bundled voice (this machine has no internet),
fetched by piper-tts's own downloader."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
import soundfile as sf
import yaml
from onnx import TensorProto, helper

from macbot.core.text.frontend import FrontEnd, missing_rules
from macbot.core.voices import bundled_voice
from macbot.errors import ExitCode
from macbot.tools.installer import download

MACBOT = [sys.executable, "-m", "macbot"]


def macbot(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*MACBOT, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ),
    )


@pytest.fixture
def setup(tmp_path) -> tuple[Path, Path]:
    """(config file, its voices folder, empty)."""
    voices = tmp_path / "voices"
    config = tmp_path / "macbot.yaml"
    config.write_text(yaml.safe_dump({"models": {"tts": {"voices_dir": str(voices)}}}))
    return config, voices


def catalogue_copy(root: Path, name: str, language: str | None = None) -> Path:
    """The bundled voice's files where the catalogue keeps voice ``name``
    (``{family}/{lang}/{speaker}/{quality}/{name}.onnx``), its espeak voice set to
    ``language``."""
    lang, speaker, quality = name.split("-")
    folder = root / lang.split("_")[0] / lang / speaker / quality
    folder.mkdir(parents=True)
    voice = bundled_voice()
    shutil.copyfile(voice.model_path, folder / f"{name}.onnx")
    data = json.loads(voice.config_path.read_text())
    if language:
        data["espeak"]["voice"] = language
    (folder / f"{name}.onnx.json").write_text(json.dumps(data))
    return folder / f"{name}.onnx"


@pytest.fixture
def catalogue(tmp_path):
    """A local server of a catalogue with ``en_GB-jo-medium`` and ``de_DE-jo-medium``."""
    root = tmp_path / "catalogue"
    catalogue_copy(root, "en_GB-jo-medium")
    catalogue_copy(root, "de_DE-jo-medium", language="de")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # the test's output stays readable
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_download_installs_a_voice_that_then_speaks_and_remove_takes_it_away(setup, catalogue):
    config, voices = setup
    url, _root = catalogue
    proc = macbot(config, "voices", "download", "en_GB-jo-medium", "--base-url", url)
    assert proc.returncode == 0, proc.stderr
    assert "installed en_GB-jo-medium (piper)" in proc.stdout
    model = voices / "en_GB-jo-medium.onnx"
    assert model.read_bytes() == bundled_voice().model_path.read_bytes()
    assert (voices / "en_GB-jo-medium.onnx.json").is_file()
    assert [p.name for p in voices.iterdir() if p.name.startswith(".")] == []  # no leftovers
    listed = json.loads(macbot(config, "voices", "--json").stdout)
    assert "en_GB-jo-medium" in [v["name"] for v in listed]
    out = config.parent / "jo.wav"
    spoken = macbot(config, "say", "--local", "--voice", "en_GB-jo-medium", "-o", str(out), "Hi")
    assert spoken.returncode == 0, spoken.stderr
    assert sf.info(str(out)).duration > 0.2
    again = macbot(config, "voices", "download", "en_GB-jo-medium", "--base-url", url)
    assert again.returncode == ExitCode.USAGE and "installed already" in again.stderr
    gone = macbot(config, "voices", "remove", "en_GB-jo-medium")
    assert gone.returncode == 0, gone.stderr
    assert not model.exists() and not (voices / "en_GB-jo-medium.onnx.json").exists()
    missing = macbot(config, "voices", "remove", "en_GB-jo-medium")
    assert missing.returncode == ExitCode.VOICE_NOT_FOUND
    assert len(missing.stderr.strip().splitlines()) == 1
    bundled = macbot(config, "voices", "remove", "en_US-joe-medium")
    assert bundled.returncode == ExitCode.USAGE and "bundled" in bundled.stderr


def test_download_reports_progress_byte_by_byte(setup, catalogue):
    _config, voices = setup
    url, root = catalogue
    seen: list[tuple[str, int, int | None]] = []
    installed = download("en_GB-jo-medium", voices, url, lambda *a: seen.append(a))
    assert installed.kind == "piper" and installed.facts["sample_rate"] == 22050
    size = (root / "en/en_GB/jo/medium/en_GB-jo-medium.onnx").stat().st_size
    model = [(done, total) for name, done, total in seen if name == "en_GB-jo-medium.onnx"]
    assert model[0] == (0, size) and model[-1] == (size, size)
    assert len(model) > 3  # read in pieces: the bar moves
    assert [d for d, _ in model] == sorted(d for d, _ in model)
    assert any(name == "en_GB-jo-medium.onnx.json" for name, _, _ in seen)


def test_download_errors_are_one_line_and_leave_nothing(setup, catalogue):
    config, voices = setup
    url, _root = catalogue
    absent = macbot(config, "voices", "download", "en_US-nobody-medium", "--base-url", url)
    assert absent.returncode == ExitCode.DOWNLOAD_FAILED
    assert "HTTP 404" in absent.stderr and len(absent.stderr.strip().splitlines()) == 1
    badname = macbot(config, "voices", "download", "nonsense", "--base-url", url)
    assert badname.returncode == ExitCode.USAGE and "did not match" in badname.stderr
    offline = macbot(
        config, "voices", "download", "en_GB-jo-medium", "--base-url", "http://127.0.0.1:9"
    )
    assert offline.returncode == ExitCode.DOWNLOAD_FAILED and "cannot download" in offline.stderr
    assert not voices.exists() or list(voices.iterdir()) == []


def test_a_voice_without_front_end_rules_is_added_and_spoken_with_a_warning(setup, catalogue):
    config, _voices = setup
    url, _root = catalogue
    proc = macbot(config, "voices", "download", "de_DE-jo-medium", "--base-url", url)
    assert proc.returncode == 0, proc.stderr
    assert "warning: no text front-end rules for language 'de'" in proc.stdout
    out = config.parent / "de.wav"
    spoken = macbot(
        config, "say", "--local", "--voice", "de_DE-jo-medium", "-o", str(out), "Es kostet 5 Euro"
    )
    assert spoken.returncode == 0, spoken.stderr
    assert "no text front-end rules for language 'de'" in spoken.stderr
    assert "numbers, dates" in spoken.stderr
    german = FrontEnd("de")
    assert german.missing == missing_rules("de")
    assert german.process("Es kostet 5 €").notes[-1] == german.missing
    assert FrontEnd("en-gb").missing is None and not FrontEnd("en-us").process("5 €").notes


def test_add_checks_before_it_installs(setup, tmp_path):
    config, voices = setup
    voice = bundled_voice()
    here = tmp_path / "downloads"
    here.mkdir()
    # a download saved as NAME.json (not NAME.onnx.json) is accepted and installed as piper's
    shutil.copyfile(voice.model_path, here / "en_GB-mine-low.onnx")
    shutil.copyfile(voice.config_path, here / "en_GB-mine-low.json")
    proc = macbot(config, "voices", "add", str(here / "en_GB-mine-low.onnx"), "--name", "mine")
    assert proc.returncode == 0, proc.stderr
    assert (voices / "mine.onnx").is_file() and (voices / "mine.onnx.json").is_file()
    # a truncated model (an interrupted download) is refused, nothing installed
    broken = here / "broken.onnx"
    broken.write_bytes(voice.model_path.read_bytes()[:100_000])
    shutil.copyfile(voice.config_path, here / "broken.onnx.json")
    refused = macbot(config, "voices", "add", str(broken))
    assert refused.returncode == ExitCode.MODEL_UNSUPPORTED
    assert "does not load in onnxruntime" in refused.stderr
    assert not (voices / "broken.onnx").exists()
    # a config that is not a voice's
    (here / "odd.onnx").write_bytes(voice.model_path.read_bytes())
    (here / "odd.onnx.json").write_text("{}")
    odd = macbot(config, "voices", "add", str(here / "odd.onnx"))
    assert odd.returncode == ExitCode.MODEL_UNSUPPORTED and "phoneme_id_map" in odd.stderr
    taken = macbot(config, "voices", "add", str(here / "en_GB-mine-low.onnx"), "--name", "mine")
    assert taken.returncode == ExitCode.USAGE and "--force" in taken.stderr


def kokoro_like_model(path: Path) -> Path:
    """A small real ONNX model with Kokoro's inputs (tokens, style, speed) and output."""
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["tokens"], ["t"], to=TensorProto.FLOAT),
            helper.make_node("ReduceSum", ["style"], ["s"], keepdims=0),
            helper.make_node("Mul", ["t", "speed"], ["ts"]),
            helper.make_node("Add", ["ts", "s"], ["waveform"]),
        ],
        "kokoro_like",
        [
            helper.make_tensor_value_info("tokens", TensorProto.INT64, [1, None]),
            helper.make_tensor_value_info("style", TensorProto.FLOAT, [1, 256]),
            helper.make_tensor_value_info("speed", TensorProto.FLOAT, [1]),
        ],
        [helper.make_tensor_value_info("waveform", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_kokoro_files_go_to_the_kokoro_folder_with_their_config_key(setup, tmp_path):
    config, voices = setup
    model = kokoro_like_model(tmp_path / "kokoro-v1.0.int8.onnx")
    proc = macbot(config, "voices", "add", str(model))
    assert proc.returncode == 0, proc.stderr
    assert (voices / "kokoro" / model.name).is_file()
    assert f"models.tts.kokoro.model_path: {voices / 'kokoro' / model.name}" in proc.stdout
    styles = tmp_path / "voices-v1.0.bin"
    with styles.open("wb") as out:
        np.savez(
            out,
            jm_kumo=np.zeros((510, 1, 256), np.float32),
            af_heart=np.ones((510, 1, 256), np.float32),
        )
    proc = macbot(config, "voices", "add", str(styles), "--json")
    assert proc.returncode == 0, proc.stderr
    added = json.loads(proc.stdout)
    assert added["kind"] == "kokoro-voices" and added["voices"] == ["af_heart", "jm_kumo"]
    assert "models.tts.kokoro.voices_path" in added["notes"][0]
    # the Piper listing is not confused by them (the Kokoro voices listed are the packaged
    # ones until the config points at the added files)
    listed = json.loads(macbot(config, "voices", "--json").stdout)
    assert [v["name"] for v in listed if v["family"] == "piper"] == ["en_US-joe-medium"]
    assert {v["name"] for v in listed if v["family"] == "kokoro"} == {
        "jf_alpha",
        "jf_gongitsune",
        "jf_nezumi",
        "jf_tebukuro",
        "jm_kumo",
    }
    not_styles = tmp_path / "other.npz"
    np.savez(not_styles, x=np.zeros((3, 7)))
    refused = macbot(config, "voices", "add", str(not_styles))
    assert refused.returncode == ExitCode.MODEL_UNSUPPORTED and "shape" in refused.stderr
    gone = macbot(config, "voices", "remove", model.name)
    assert gone.returncode == 0 and not (voices / "kokoro" / model.name).exists()
