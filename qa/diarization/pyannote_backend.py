"""Optional mono diarization with a pyannote.audio pipeline supplied by the user.

No PyPI package ships pyannote's segmentation/embedding weights, so this backend runs
only when `pyannote_pipeline` names a local directory (with `config.yaml` pointing at
its `segmentation/`, `embedding/`, `plda/` subfolders) or, for users who are online, a
hub id. Install with `pip install -e ".[pyannote]"`. Telemetry is switched off, and
audio is passed in memory (torchcodec cannot decode files on CPU-only installs here).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from qa.diarization import Diarization, Turn

_PIPELINES: dict[str, object] = {}
_LOCK = threading.Lock()


def load_pipeline(ref: str):
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
    with _LOCK:
        if ref not in _PIPELINES:
            try:
                from pyannote.audio import Pipeline
            except ImportError as exc:
                raise RuntimeError(
                    "the pyannote backend needs pyannote.audio: pip install -e '.[pyannote]' "
                    f"(import failed: {exc})"
                ) from exc
            path = Path(ref).expanduser()
            if path.exists() and not (path / "config.yaml").is_file():
                raise RuntimeError(f"{path} has no config.yaml: not a pyannote pipeline directory")
            pipeline = Pipeline.from_pretrained(str(path) if path.exists() else ref)
            if pipeline is None:
                raise RuntimeError(f"could not load pyannote pipeline {ref!r}")
            _PIPELINES[ref] = pipeline
        return _PIPELINES[ref]


def diarize_pyannote(samples: np.ndarray, sr: int, ref: str, num_speakers: int = 2) -> Diarization:
    import torch

    pipeline = load_pipeline(ref)
    waveform = torch.from_numpy(samples.astype(np.float32)).unsqueeze(0)
    output = pipeline({"waveform": waveform, "sample_rate": sr}, num_speakers=num_speakers)
    annotation = getattr(output, "speaker_diarization", output)  # pyannote 4 wraps the annotation
    labels = sorted(annotation.labels())
    names = {lab: f"S{i}" for i, lab in enumerate(labels)}
    turns = [
        Turn(round(seg.start, 3), round(seg.end, 3), names[lab])
        for seg, _, lab in annotation.itertracks(yield_label=True)
    ]
    turns.sort(key=lambda t: t.start)
    return Diarization(turns, "pyannote", [names[lab] for lab in labels] or [f"S{i}" for i in range(num_speakers)])
