"""Audio decoding: any supported call recording -> float32 channels at 16 kHz.

soundfile (bundled libsndfile) reads WAV PCM 8/16/24/32-bit, mu-law, A-law, GSM 6.10,
FLAC, OGG/Opus and MP3; PyAV (through faster-whisper) is the fallback for containers
libsndfile lacks (M4A/AAC, G.722...). Telephone audio at 8 kHz is resampled with soxr,
a band-limited resampler. Every failure raises `AudioError` with a reason a person can
read, so the batch records it and moves on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
MIN_DURATION_S = 0.5
AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".wma", ".gsm", ".au", ".aiff", ".aif")


class AudioError(ValueError):
    """The file is not usable call audio; the message says why."""


@dataclass
class Audio:
    """Decoded call audio. `channels` has shape (n_channels, n_samples) at `sample_rate`."""

    channels: np.ndarray
    sample_rate: int
    source_rate: int
    source_channels: int
    codec: str

    @property
    def n_channels(self) -> int:
        return int(self.channels.shape[0])

    @property
    def duration_s(self) -> float:
        return self.channels.shape[1] / self.sample_rate

    def mono(self) -> np.ndarray:
        """Down-mix to one channel (the average keeps both parties at their levels)."""
        if self.n_channels == 1:
            return self.channels[0]
        return self.channels.mean(axis=0).astype(np.float32)


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int, str, int]:
    import soundfile as sf

    with sf.SoundFile(str(path)) as fh:
        codec = f"{fh.format}/{fh.subtype}"
        if fh.seekable():
            data = fh.read(dtype="float32", always_2d=True)
        else:  # e.g. GSM 6.10 WAV: read block by block until a short read
            blocks = []
            while True:
                block = fh.read(frames=1 << 16, dtype="float32", always_2d=True)
                blocks.append(block)
                if len(block) < 1 << 16:
                    break
            data = np.concatenate(blocks)
        return data.T.copy(), int(fh.samplerate), codec, int(fh.samplerate)


def _decode_pyav(path: Path) -> tuple[np.ndarray, int, str, int]:
    import av

    with av.open(str(path)) as container:
        streams = container.streams.audio
        if not streams:
            raise AudioError("the file contains no audio stream")
        stream = streams[0]
        layout = "stereo" if (stream.channels or 1) >= 2 else "mono"
        resampler = av.AudioResampler(format="flt", layout=layout, rate=SAMPLE_RATE)
        chunks = []
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
        n_ch = 2 if layout == "stereo" else 1
        flat = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        data = flat.reshape(-1, n_ch).T.astype(np.float32)
        codec = f"{container.format.name}/{stream.codec_context.name}"
        return data, SAMPLE_RATE, codec, int(stream.rate or SAMPLE_RATE)


def _clean(exc: Exception, path: Path) -> str:
    """A decoder's message without the file path or errno noise."""
    msg = str(exc).replace(f"'{path}'", "").replace(str(path), "")
    msg = re.sub(r"\[Errno -?\d+\]\s*", "", msg)
    msg = re.sub(r"Error opening\s*:\s*", "", msg)
    return re.sub(r"[\s:;.]+$", "", msg.strip()) or type(exc).__name__


def resample(x: np.ndarray, sr_in: int, sr_out: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling (soxr, high quality) along the last axis."""
    if sr_in == sr_out:
        return x.astype(np.float32, copy=False)
    import soxr

    if x.ndim == 1:
        return soxr.resample(x, sr_in, sr_out, quality="HQ").astype(np.float32)
    return np.stack([soxr.resample(ch, sr_in, sr_out, quality="HQ") for ch in x]).astype(np.float32)


def _duplicate_channels(data: np.ndarray) -> bool:
    """True when a 2-channel file carries the same signal twice (a mono call saved as stereo).

    Real two-party channels correlate weakly or negatively; a duplicated mix correlates
    above 0.99 even after per-channel processing (jfk.flac's channels: 0.9996).
    """
    a, b = data[0].astype(np.float64), data[1].astype(np.float64)
    energy = float(np.dot(a, a) + np.dot(b, b))
    if energy == 0.0:
        return True
    if float(np.sum((a - b) ** 2)) / energy < 1e-3:
        return True
    denom = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return denom > 0 and float(np.dot(a, b)) / denom > 0.99


def load_audio(path: str | Path) -> Audio:
    """Decode `path` to float32 at 16 kHz, keeping up to two channels."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"file not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise AudioError("the file is empty (0 bytes)")
    try:
        data, sr, codec, source_rate = _decode_soundfile(path)
    except Exception as sf_exc:  # libsndfile could not open it: try FFmpeg
        try:
            data, sr, codec, source_rate = _decode_pyav(path)
        except AudioError:
            raise
        except Exception as av_exc:
            raise AudioError(
                "cannot decode audio: not a supported audio format, or the file is corrupt or truncated "
                f"(libsndfile: {_clean(sf_exc, path)}; FFmpeg: {_clean(av_exc, path)}). "
                "Expected WAV, MP3, FLAC, OGG, Opus or M4A."
            ) from None
    source_channels = data.shape[0]
    if source_channels == 0 or data.shape[1] == 0:
        raise AudioError("the file decodes to no audio samples")
    if source_channels > 2:
        raise AudioError(f"{source_channels}-channel audio is not supported (expected mono or stereo)")
    if not np.all(np.isfinite(data)):
        raise AudioError("the audio contains invalid (NaN or infinite) samples")
    if data.shape[1] / sr < MIN_DURATION_S:
        raise AudioError(f"the recording is {data.shape[1] / sr:.2f} s long; at least {MIN_DURATION_S} s is needed")
    if source_channels == 2 and _duplicate_channels(data):
        data = data[:1]
    return Audio(resample(data, sr), SAMPLE_RATE, source_rate, source_channels, codec)
