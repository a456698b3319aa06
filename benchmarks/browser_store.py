"""A store for the browser tests and benchmark: `bench_store`'s synthetic calls, some with a real WAV.

The synthetic calls (Turkish `tr_inbound` items, 40 utterances of 7.5 s each) point at recordings
that do not exist; `with_audio` writes one 5-minute 8 kHz WAV (a tone that changes pitch every
7.5 s, so each utterance sounds different) and points the first `n` calls at it, so the player has
something to play and seek in. No personal data: the texts are bench_store's filler.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import bench_store


def recording(path: Path, seconds: float = 300.0, sr: int = 8000) -> Path:
    import numpy as np
    import soundfile as sf

    t = np.arange(int(seconds * sr)) / sr
    pitch = 200 + 40 * (np.floor(t / 7.5) % 8)
    sf.write(path, (0.2 * np.sin(2 * np.pi * pitch * t)).astype(np.float32), sr, subtype="PCM_16")
    return path


def build(db: Path, n_calls: int, with_audio: int = 12) -> dict:
    """bench_store's store with `n_calls` calls, the first `with_audio` ok calls playable."""
    import duckdb

    from qa.pipeline import file_sha256

    info = bench_store.build_store(db, n_calls)
    wav = recording(db.parent / "recording.wav")
    sha = file_sha256(wav)
    con = duckdb.connect(str(db))
    try:
        con.execute("""UPDATE calls SET source_path = ?, content_sha256 = ? WHERE call_id IN (
                         SELECT call_id FROM calls WHERE status = 'ok' ORDER BY call_id LIMIT ?)""",
                    [str(wav), sha, with_audio])
    finally:
        con.close()
    return info
