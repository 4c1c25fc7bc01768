"""Voices you can add: check a downloaded voice and install it in the voices folder, fetch a
Piper voice by its catalogue name, remove one (``macbot voices add|download|remove``).

Every file is checked before it is installed: a Piper voice (``NAME.onnx`` with its JSON
config, ``NAME.onnx.json`` or ``NAME.json``) must load in onnxruntime with Piper's inputs and
have a config with a phoneme map and a sample rate; a Kokoro model must load with Kokoro's
inputs (``tokens``/``input_ids`` and ``style``), a Kokoro voices file must hold style arrays
of 256 values. Piper voices go into the voices folder (``models.tts.voices_dir``) as
``NAME.onnx`` + ``NAME.onnx.json``, where :func:`~macbot.core.voices.list_voices` finds them;
Kokoro files go into its ``kokoro/`` subfolder and the config keys that point at them are
named (``models.tts.kokoro.model_path`` / ``voices_path``).

Downloads reuse piper-tts's own downloader (:mod:`piper.download_voices`: the catalogue's
name pattern, its URL layout, its file names), with the base URL configurable (a mirror, or a
local server in tests) and the bytes counted for a progress bar. A download lands in a
temporary folder inside the voices folder and is installed only once it passed the checks.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import urllib.error
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from piper import download_voices as piper_download

from ..core.sessions import SessionPlan, open_session
from ..core.text.frontend import missing_rules
from ..core.voices import DEFAULT_VOICE, KOKORO_FOLDER
from ..errors import (
    DownloadError,
    ModelNotFoundError,
    ModelUnsupportedError,
    OutputError,
    UsageError,
    VoiceNotFoundError,
)

PIPER_BASE_URL = "https://huggingface.co/rhasspy/piper-voices/resolve/main"
"""Where piper-tts's downloader fetches voices (the start of its ``URL_FORMAT``)."""

STYLE_SIZE = 256
"""Values in one Kokoro style vector."""

Progress = Callable[[str, int, int | None], None]
"""``progress(file name, bytes so far, total bytes or None)``."""


@dataclass
class Installed:
    """What ``add`` (or ``download``) did."""

    name: str
    kind: str
    """``piper``, ``kokoro-model`` or ``kokoro-voices``."""
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What to do next, and warnings (a language without front-end rules)."""
    facts: dict[str, Any] = field(default_factory=dict)


# -- checks ---------------------------------------------------------------------------------


def piper_config_of(model: Path) -> Path:
    """The JSON config of a Piper model: ``NAME.onnx.json`` (piper's name), else ``NAME.json``
    (how some downloads are saved)."""
    for candidate in (model.with_name(model.name + ".json"), model.with_suffix(".json")):
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(
        f"no config beside {model}: a Piper voice is NAME.onnx with NAME.onnx.json "
        "(download both files)"
    )


def _inputs(model: Path) -> list[str]:
    """The model's input names; it must load in onnxruntime."""
    try:
        session = open_session(model, SessionPlan(intra_op_threads=1))
    except Exception as exc:  # onnxruntime raises its own types for files it cannot load
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ModelUnsupportedError(f"{model} does not load in onnxruntime: {first}") from exc
    return [i.name for i in session.get_inputs()]


def check_piper(model: Path, config: Path) -> dict[str, Any]:
    """A Piper voice: the config is Piper's JSON, the model loads with Piper's inputs.
    Returns facts from the config (language, sample rate, quality, speakers)."""
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelUnsupportedError(f"{config} is not a voice's JSON config: {exc}") from exc
    if not isinstance(data, dict) or not data.get("phoneme_id_map"):
        raise ModelUnsupportedError(f"{config} has no phoneme_id_map: not a Piper voice config")
    rate = (data.get("audio") or {}).get("sample_rate")
    if not isinstance(rate, int) or rate <= 0:
        raise ModelUnsupportedError(f"{config} has no audio.sample_rate")
    inputs = _inputs(model)
    if "input" not in inputs or "input_lengths" not in inputs:
        raise ModelUnsupportedError(
            f"{model} is not a Piper model (inputs {', '.join(inputs)}; Piper's are input, "
            "input_lengths, scales)"
        )
    return {
        "language": (data.get("espeak") or {}).get("voice")
        or (data.get("language") or {}).get("code"),
        "sample_rate": rate,
        "quality": (data.get("audio") or {}).get("quality"),
        "speakers": data.get("num_speakers", 1),
    }


def check_kokoro_model(model: Path) -> dict[str, Any]:
    inputs = _inputs(model)
    if not ({"tokens", "input_ids"} & set(inputs)) or "style" not in inputs:
        raise ModelUnsupportedError(
            f"{model} has no config beside it and is not a Kokoro model either (inputs "
            f"{', '.join(inputs)}; Kokoro's are tokens or input_ids, style, speed); a Piper "
            "voice needs its NAME.onnx.json"
        )
    return {"inputs": inputs}


def check_kokoro_voices(path: Path) -> dict[str, Any]:
    """A Kokoro voices file (kokoro-onnx's ``voices-v1.0.bin`` is a NumPy archive): every
    array is a style table whose last dimension is :data:`STYLE_SIZE`."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            shapes = {name: archive[name].shape for name in archive.files}
    except Exception as exc:  # numpy raises several types for files that are not archives
        raise ModelUnsupportedError(f"{path} is not a Kokoro voices file: {exc}") from exc
    bad = [n for n, shape in shapes.items() if not shape or shape[-1] != STYLE_SIZE]
    if not shapes or bad:
        raise ModelUnsupportedError(
            f"{path} is not a Kokoro voices file: "
            + (f"{bad[0]} has shape {shapes[bad[0]]}" if bad else "no arrays")
        )
    return {"voices": sorted(shapes)}


# -- add, remove ----------------------------------------------------------------------------


def add(source: Path, voices_dir: Path, name: str | None = None, force: bool = False) -> Installed:
    """Check ``source`` and install it (see the module docstring). An installed voice of the
    same name is kept unless ``force``."""
    source = Path(source).expanduser()
    if not source.is_file():
        raise ModelNotFoundError(f"not found: {source}")
    suffix = source.suffix.lower()
    if suffix == ".json":
        raise UsageError(f"give the model ({source.name.split('.')[0]}.onnx), not its config")
    if suffix in (".bin", ".npz"):
        facts = check_kokoro_voices(source)
        target = _copy(source, voices_dir / KOKORO_FOLDER / source.name, force)
        notes = [
            f"Kokoro voices file with {len(facts['voices'])} voices; point the config at it: "
            f"models.tts.kokoro.voices_path: {target}"
        ]
        return Installed(target.name, "kokoro-voices", [target], notes, facts)
    if suffix != ".onnx":
        raise UsageError(
            f"cannot add {source.name}: a voice is a .onnx model (with its .onnx.json for Piper) "
            "or a Kokoro voices file (.bin, .npz)"
        )
    try:
        config = piper_config_of(source)
    except ModelNotFoundError:
        facts = check_kokoro_model(source)
        target = _copy(source, voices_dir / KOKORO_FOLDER / source.name, force)
        notes = [f"Kokoro model; point the config at it: models.tts.kokoro.model_path: {target}"]
        return Installed(target.name, "kokoro-model", [target], notes, facts)
    facts = check_piper(source, config)
    name = name or source.name.removesuffix(".onnx")
    if name == DEFAULT_VOICE:
        raise UsageError(f"{DEFAULT_VOICE} is the bundled voice's name: give another (--name)")
    model = voices_dir / f"{name}.onnx"
    files = [
        _copy(source, model, force),
        _copy(config, model.with_name(model.name + ".json"), True),
    ]
    notes = [f"use it with: macbot say --voice {name} TEXT (or models.tts.voice: {name})"]
    missing = missing_rules(str(facts.get("language") or ""))
    if missing:
        notes.append(f"warning: {missing}")
    return Installed(name, "piper", files, notes, facts)


def _copy(source: Path, target: Path, force: bool) -> Path:
    if target.exists() and not force and source.resolve() != target.resolve():
        raise UsageError(f"{target} exists already (--force replaces it)", param="name")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.resolve() != target.resolve():
            partial = target.with_name(f".{target.name}.partial")
            shutil.copyfile(source, partial)
            partial.replace(target)
    except OSError as exc:
        raise OutputError(f"cannot install {target}: {exc.strerror or exc}") from exc
    return target


def remove(name: str, voices_dir: Path) -> list[Path]:
    """Remove an installed voice: ``NAME.onnx`` + its config, a voice folder ``NAME/``, or a
    Kokoro file in ``kokoro/``. The bundled voice is a package, not a file here."""
    if name == DEFAULT_VOICE:
        raise UsageError(f"{DEFAULT_VOICE} is bundled (a Python package): it cannot be removed")
    if not name or "/" in name or name.startswith("."):
        raise UsageError(f"not a voice name: {name!r}")
    voices_dir = Path(voices_dir)
    model = voices_dir / f"{name}.onnx"
    removed: list[Path] = []
    if model.is_file():
        for path in (model, model.with_name(model.name + ".json")):
            if path.is_file():
                path.unlink()
                removed.append(path)
    elif (
        name != KOKORO_FOLDER
        and (voices_dir / name).is_dir()
        and list((voices_dir / name).glob("*.onnx"))
    ):
        shutil.rmtree(voices_dir / name)
        removed.append(voices_dir / name)
    elif (voices_dir / KOKORO_FOLDER / name).is_file():
        (voices_dir / KOKORO_FOLDER / name).unlink()
        removed.append(voices_dir / KOKORO_FOLDER / name)
    if not removed:
        here = sorted(
            [p.name.removesuffix(".onnx") for p in voices_dir.glob("*.onnx")]
            + [
                p.name
                for p in voices_dir.iterdir()
                if p.is_dir() and p.name != KOKORO_FOLDER and list(p.glob("*.onnx"))
            ]
            + [p.name for p in (voices_dir / KOKORO_FOLDER).glob("*") if p.is_file()]
            if voices_dir.is_dir()
            else []
        )
        raise VoiceNotFoundError(
            f"no voice {name!r} installed in {voices_dir} "
            f"(installed: {', '.join(here) if here else 'none'})"
        )
    return removed


# -- download -------------------------------------------------------------------------------


class _Counted:
    """A response whose reads are counted for the progress bar."""

    def __init__(self, response: Any, name: str, progress: Progress) -> None:
        self.response = response
        self.name = name
        self.progress = progress
        self.done = 0
        length = response.headers.get("Content-Length")
        self.total = int(length) if length and length.isdigit() else None
        progress(name, 0, self.total)

    def read(self, size: int = -1) -> bytes:
        data = self.response.read(size)
        self.done += len(data)
        self.progress(self.name, self.done, self.total)
        return data

    def __enter__(self) -> _Counted:
        return self

    def __exit__(self, *exc: object) -> None:
        self.response.close()


@contextlib.contextmanager
def _piper_downloader(base_url: str, progress: Progress) -> Iterator[Any]:
    """piper-tts's downloader module, fetching from ``base_url`` and counting bytes."""
    url_format, urlopen = piper_download.URL_FORMAT, piper_download.urlopen
    if not url_format.startswith(PIPER_BASE_URL):  # piper changed its layout: say so
        raise DownloadError(f"piper-tts's downloader has an unknown URL layout: {url_format}")

    def counted(url: str, *args: Any, **kwargs: Any) -> _Counted:
        name = url.rsplit("/", 1)[-1].split("?", 1)[0]
        return _Counted(urlopen(url, *args, **kwargs), name, progress)

    piper_download.URL_FORMAT = base_url.rstrip("/") + url_format[len(PIPER_BASE_URL) :]
    piper_download.urlopen = counted
    try:
        yield piper_download
    finally:
        piper_download.URL_FORMAT, piper_download.urlopen = url_format, urlopen


def download(
    name: str,
    voices_dir: Path,
    base_url: str = PIPER_BASE_URL,
    progress: Progress | None = None,
    force: bool = False,
) -> Installed:
    """Fetch the Piper voice ``name`` (``en_GB-alan-medium``: language_REGION-name-quality,
    as the catalogue names it) from ``base_url`` with piper-tts's downloader, check it and
    install it."""
    progress = progress or (lambda _name, _done, _total: None)
    target = Path(voices_dir) / f"{name}.onnx"
    if target.exists() and not force:
        raise UsageError(f"{name} is installed already ({target}; --force fetches it again)")
    try:
        Path(voices_dir).mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=voices_dir))
    except OSError as exc:
        raise OutputError(f"cannot write to {voices_dir}: {exc.strerror or exc}") from exc
    try:
        with _piper_downloader(base_url, progress) as piper_download:
            try:
                piper_download.download_voice(name, staging)
            except ValueError as exc:  # the name does not follow the catalogue's pattern
                raise UsageError(
                    f"{exc}", hint="names look like en_US-lessac-medium (macbot voices --help)"
                ) from exc
            except urllib.error.HTTPError as exc:
                raise DownloadError(
                    f"no voice {name!r} at {base_url} (HTTP {exc.code} for {exc.url})"
                ) from exc
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", None) or exc
                raise DownloadError(f"cannot download {name} from {base_url}: {reason}") from exc
        return add(staging / f"{name}.onnx", voices_dir, name, force=force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
