"""Audio decoding: any supported call recording -> float32 channels at 16 kHz.

soundfile (bundled libsndfile) reads WAV PCM 8/16/24/32-bit, mu-law, A-law, GSM 6.10,
FLAC, OGG/Opus and MP3; PyAV (through faster-whisper) is the fallback for containers
libsndfile lacks (M4A/AAC, G.722...). Telephone audio at 8 kHz is resampled with soxr,
a band-limited resampler. Decoding streams block by block: a long call is resampled as a
stream into an unlinked temporary file and read back in spans, so memory stays flat with
call length (`Audio.read`, `Audio.spans`, `CHUNK_S`). Every failure raises `AudioError` with a reason a person can
read, so the batch records it and moves on.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
MIN_DURATION_S = 0.5
AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".wma", ".gsm", ".au", ".aiff", ".aif")


class AudioError(ValueError):
    """The file is not usable call audio; the message says why."""


# Long calls are processed in blocks of this many seconds (VAD, diarization features, ASR
# chunks cut at silences), so memory does not grow with call length. Read at call time:
# tests lower it to force chunking on short clips.
CHUNK_S = 300.0
# Decoded audio longer than this goes to an anonymous temporary file instead of RAM
# (2 h of 16 kHz stereo float32 is ~920 MB; a 10-minute call stays in memory).
IN_MEMORY_MAX_S = 600.0
_BLOCK_FRAMES = 1 << 16  # decoder read size, in source frames


class _Spill:
    """Interleaved float32 frames in an unlinked temporary file; reads are `pread`s (thread-safe).

    Plain reads rather than a memory map: mapped pages would count in RSS as they are touched.
    """

    def __init__(self, n_channels: int):
        import tempfile

        self.fh = tempfile.TemporaryFile(prefix="callqa-audio-")
        self.n_channels = n_channels
        self.n_frames = 0

    def append(self, block: np.ndarray) -> None:
        """Append (frames, n_channels) float32 samples."""
        self.fh.write(np.ascontiguousarray(block, dtype=np.float32).tobytes())
        self.n_frames += len(block)

    def read(self, start: int, end: int) -> np.ndarray:
        """Frames [start, end) as (n_channels, n) float32."""
        start, end = max(0, start), min(end, self.n_frames)
        if end <= start:
            return np.zeros((self.n_channels, 0), np.float32)
        self.fh.flush()
        width = 4 * self.n_channels
        raw = os.pread(self.fh.fileno(), (end - start) * width, start * width)
        return np.frombuffer(raw, dtype=np.float32).reshape(-1, self.n_channels).T.copy()


class Audio:
    """Decoded call audio at `sample_rate` (16 kHz), up to two channels.

    Short calls are held in memory; long ones (over `IN_MEMORY_MAX_S`) live in a temporary
    file. Processing code reads spans with `read`/`read_mono` or walks `spans(chunk_s)`;
    `channels` and `mono()` return the whole call as one array (fine for short calls, the
    cost of the full array for long ones).
    """

    def __init__(
        self,
        channels: np.ndarray | None,
        sample_rate: int,
        source_rate: int,
        source_channels: int,
        codec: str,
        spill: _Spill | None = None,
        keep_channels: int | None = None,
    ):
        if channels is None and spill is None:
            raise ValueError("Audio needs samples or a spill file")
        self._data = channels
        self._spill = spill
        self._keep = keep_channels or (spill.n_channels if spill is not None else None)
        self.sample_rate = sample_rate
        self.source_rate = source_rate
        self.source_channels = source_channels
        self.codec = codec
        self.decoder_messages: list[str] = []  # decoder complaints (damaged MP3 frames), for the call's record

    def __repr__(self) -> str:
        where = "file" if self.spilled else "memory"
        return f"Audio({self.n_channels} ch, {self.duration_s:.1f} s at {self.sample_rate} Hz, {self.codec}, in {where})"

    @property
    def spilled(self) -> bool:
        return self._data is None

    @property
    def n_channels(self) -> int:
        return int(self._data.shape[0]) if self._data is not None else int(self._keep)

    @property
    def n_samples(self) -> int:
        return int(self._data.shape[1]) if self._data is not None else self._spill.n_frames

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate

    @property
    def channels(self) -> np.ndarray:
        """(n_channels, n_samples) float32: the whole call (read from disk for a long one)."""
        return self._data if self._data is not None else self.read()

    def read(self, start_s: float = 0.0, end_s: float | None = None) -> np.ndarray:
        """(n_channels, n) samples between `start_s` and `end_s` (default: the end)."""
        a = max(0, int(round(start_s * self.sample_rate)))
        b = self.n_samples if end_s is None else min(self.n_samples, int(round(end_s * self.sample_rate)))
        if self._data is not None:
            return self._data[:, a:b]
        return self._spill.read(a, b)[: self.n_channels]

    def read_mono(self, start_s: float = 0.0, end_s: float | None = None) -> np.ndarray:
        """The down-mix (average of the channels) between `start_s` and `end_s`."""
        x = self.read(start_s, end_s)
        return x[0] if x.shape[0] == 1 else x.mean(axis=0).astype(np.float32)

    def mono(self) -> np.ndarray:
        """Down-mix to one channel (the average keeps both parties at their levels)."""
        return self.read_mono()

    def spans(self, chunk_s: float | None = None) -> list[tuple[float, float]]:
        """Consecutive [start, end) spans of at most `chunk_s` seconds (default `CHUNK_S`) covering the call."""
        step = chunk_s or CHUNK_S
        total = self.duration_s
        n = max(1, int(np.ceil(total / step - 1e-9)))
        return [(i * step, min(total, (i + 1) * step)) for i in range(n)]


def _blocks_soundfile(path: Path):
    """(sample rate, codec, source rate, iterator of (frames, channels) float32 blocks) via libsndfile."""
    import soundfile as sf

    fh = sf.SoundFile(str(path))
    codec = f"{fh.format}/{fh.subtype}"

    def blocks():
        with fh:
            while True:  # also right for GSM 6.10 WAV, which is not seekable: read until a short read
                block = fh.read(frames=_BLOCK_FRAMES, dtype="float32", always_2d=True)
                if len(block):
                    yield block
                if len(block) < _BLOCK_FRAMES:
                    break

    return int(fh.samplerate), codec, int(fh.samplerate), blocks()


def _blocks_pyav(path: Path):
    """The same through FFmpeg (PyAV), resampled by FFmpeg to 16 kHz float."""
    import av

    container = av.open(str(path))
    streams = container.streams.audio
    if not streams:
        container.close()
        raise AudioError("the file contains no audio stream")
    stream = streams[0]
    n_ch = 2 if (stream.channels or 1) >= 2 else 1
    resampler = av.AudioResampler(format="flt", layout="stereo" if n_ch == 2 else "mono", rate=SAMPLE_RATE)
    codec = f"{container.format.name}/{stream.codec_context.name}"

    def blocks():
        with container:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    yield out.to_ndarray().reshape(-1, n_ch)
            for out in resampler.resample(None):
                yield out.to_ndarray().reshape(-1, n_ch)

    return SAMPLE_RATE, codec, int(stream.rate or SAMPLE_RATE), blocks()


class _Sink:
    """Collects decoded blocks in memory; past `IN_MEMORY_MAX_S` resamples them as a stream into a spill file.

    Keeps the statistics the checks need (finite samples, channel similarity) as it goes, so a
    long call is never held whole in memory.
    """

    def __init__(self, sr: int, max_in_memory_s: float):
        self.sr = sr
        self.limit = int(max_in_memory_s * sr)
        self.blocks: list[np.ndarray] = []
        self.n = 0
        self.n_channels = 0
        self.finite = True
        self.sums = np.zeros(4)  # a.a, b.b, a.b, (a-b).(a-b) for the duplicate-channel test
        self.spill: _Spill | None = None
        self.stream = None

    def add(self, block: np.ndarray) -> None:
        if not self.n_channels:
            self.n_channels = block.shape[1]
            if self.n_channels > 2:
                raise AudioError(f"{self.n_channels}-channel audio is not supported (expected mono or stereo)")
        block = block.astype(np.float32, copy=False)
        self.finite = self.finite and bool(np.all(np.isfinite(block)))
        if self.n_channels == 2 and self.finite:
            a, b = block[:, 0].astype(np.float64), block[:, 1].astype(np.float64)
            self.sums += (np.dot(a, a), np.dot(b, b), np.dot(a, b), np.dot(a - b, a - b))
        self.n += len(block)
        if self.spill is None:
            self.blocks.append(block)
            if self.n > self.limit and self.finite:
                self._start_spill()
        else:
            self._write(block)

    def _start_spill(self) -> None:
        import soxr

        self.spill = _Spill(self.n_channels)
        if self.sr != SAMPLE_RATE:
            self.stream = soxr.ResampleStream(self.sr, SAMPLE_RATE, self.n_channels, dtype="float32", quality="HQ")
        held, self.blocks = self.blocks, []
        for block in held:
            self._write(block)

    def _write(self, block: np.ndarray, last: bool = False) -> None:
        out = self.stream.resample_chunk(block, last=last) if self.stream is not None else block
        if len(out):
            self.spill.append(out)

    def duplicate_channels(self) -> bool:
        """True when a 2-channel file carries the same signal twice (see `_duplicate_channels`)."""
        aa, bb, ab, diff = self.sums
        energy = aa + bb
        if energy == 0.0 or diff / energy < 1e-3:
            return True
        denom = float(np.sqrt(aa * bb))
        return denom > 0 and ab / denom > 0.99

    def finish(self, source_rate: int, codec: str) -> Audio:
        if self.n_channels == 0 or self.n == 0:
            raise AudioError("the file decodes to no audio samples")
        if not self.finite:
            raise AudioError("the audio contains invalid (NaN or infinite) samples")
        if self.n / self.sr < MIN_DURATION_S:
            raise AudioError(f"the recording is {self.n / self.sr:.2f} s long; at least {MIN_DURATION_S} s is needed")
        if self.spill is None:  # short call: exactly the in-memory path (one-shot resampling)
            data = np.concatenate(self.blocks).T
            self.blocks = []
            if self.n_channels == 2 and _duplicate_channels(data):
                data = data[:1]
            return Audio(resample(data.copy(), self.sr), SAMPLE_RATE, source_rate, self.n_channels, codec)
        if self.stream is not None:
            self._write(np.zeros((0, self.n_channels), np.float32), last=True)
        keep = 1 if self.n_channels == 2 and self.duplicate_channels() else self.n_channels
        return Audio(None, SAMPLE_RATE, source_rate, self.n_channels, codec, spill=self.spill, keep_channels=keep)


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


def _decode(opener, path: Path, max_in_memory_s: float) -> Audio:
    with _quiet_decoder() as messages:
        sr, codec, source_rate, blocks = opener(path)
        sink = _Sink(sr, max_in_memory_s)
        for block in blocks:
            sink.add(block)
    audio = sink.finish(source_rate, codec)
    audio.decoder_messages = messages
    return audio


_DECODER_LINE = re.compile(rb"^\[src/libmpg123/[^\]]*\]\s*(?:error|warning|note):")


class _quiet_decoder:
    """Capture what libsndfile's mpg123 writes to the process's stderr while decoding (e.g. eight
    "part2_3_length ... too large" lines for one damaged MP3 frame each): the lines go into
    `Audio.decoder_messages` (stored with the call's audio-quality record), not onto the console.
    Anything else written meanwhile is passed through to stderr."""

    def __enter__(self) -> list[str]:
        import sys
        import tempfile

        self.messages: list[str] = []
        try:
            sys.stderr.flush()
            self.saved = os.dup(2)
            self.tmp = tempfile.TemporaryFile()
            os.dup2(self.tmp.fileno(), 2)
        except OSError:  # no real fd 2 (embedded interpreters): leave stderr alone
            self.saved = None
        return self.messages

    def __exit__(self, *exc) -> bool:
        if self.saved is None:
            return False
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.tmp.seek(0)
        other = []
        for line in self.tmp.read().splitlines():
            if _DECODER_LINE.match(line):
                self.messages.append(line.decode("utf-8", "replace")[:200])
            elif line.strip():
                other.append(line)
        self.tmp.close()
        if other:
            os.write(2, b"\n".join(other) + b"\n")
        return False


_WAV_CODECS = {1: "PCM", 2: "MS ADPCM", 3: "IEEE float", 6: "A-law", 7: "mu-law", 0x11: "IMA ADPCM", 0x31: "GSM 6.10",
               0x40: "G.721 ADPCM", 0x50: "MPEG", 0x55: "MPEG Layer 3", 0x64: "G.726", 0x65: "G.722",
               0x161: "WMA", 0xFFFE: "extensible"}


def sniff(path: Path) -> str:
    """What the file's first bytes say it is, for error messages ("a WAV file with codec 0x1234")."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        info = _wav_chunks(path)
        tag = info.get("format")
        if tag is None:
            return "a WAV file without a readable 'fmt ' chunk"
        name = _WAV_CODECS.get(tag, "unknown")
        return f"a WAV file with codec 0x{tag:04X} ({name})"
    for magic, what in ((b"fLaC", "a FLAC file"), (b"OggS", "an OGG file"), (b"ID3", "an MP3 file (ID3 tag)"),
                        (b"FORM", "an AIFF file"), (b".snd", "an AU file"), (b"#!AMR", "an AMR file"),
                        (b"\x30\x26\xb2\x75", "a WMA/ASF file")):
        if head.startswith(magic):
            return what
    if head[4:8] == b"ftyp":
        return f"an MP4/M4A file ({head[8:12].decode('latin-1').strip()})"
    if (len(head) >= 3 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and (head[1] >> 3) & 3 != 1
            and (head[1] >> 1) & 3 != 0 and head[2] >> 4 not in (0, 15) and (head[2] >> 2) & 3 != 3):
        return "an MPEG audio stream (a frame header at byte 0)"
    return f"not a known audio format (first bytes {head[:8].hex(' ')})"


def _wav_chunks(path: Path) -> dict[str, int]:
    """'format' tag, 'data' size the header promises, 'data_offset', 'file_size' of a RIFF WAV."""
    import struct

    out: dict[str, int] = {"file_size": path.stat().st_size}
    with open(path, "rb") as fh:
        if fh.read(12)[:4] != b"RIFF":
            return out
        while True:
            hdr = fh.read(8)
            if len(hdr) < 8:
                return out
            cid, size = hdr[:4], struct.unpack("<I", hdr[4:])[0]
            if cid == b"fmt ":
                body = fh.read(min(size, 64))
                if len(body) >= 2:
                    out["format"] = struct.unpack("<H", body[:2])[0]
                if len(body) >= 16:
                    out["byte_rate"] = struct.unpack("<I", body[8:12])[0]
                fh.seek(size - len(body) + (size & 1), 1)
            elif cid == b"data":
                out["data"], out["data_offset"] = size, fh.tell()
                return out
            else:
                fh.seek(size + (size & 1), 1)


def check_wav_complete(path: Path) -> None:
    """Refuse a WAV whose header promises more audio than the file holds (a copy still in progress,
    or cut short). Streaming writers leave the size 0 or 0xFFFFFFFF: those are not judged."""
    info = _wav_chunks(path)
    promised, offset = info.get("data"), info.get("data_offset")
    if promised is None or offset is None or promised in (0, 0xFFFFFFFF):
        return
    present = info["file_size"] - offset
    if present < promised:
        rate = info.get("byte_rate") or 0
        secs = f" ({present / rate:.1f} s of {promised / rate:.1f} s)" if rate else ""
        raise AudioError(
            f"truncated WAV: the header promises {promised} bytes of audio but only {present} are present "
            f"({100 * present / promised:.0f} %{secs}); the file is still being copied or was cut short")


def load_audio(path: str | Path, max_in_memory_s: float | None = None) -> Audio:
    """Decode `path` to float32 at 16 kHz, keeping up to two channels.

    Decoding streams block by block; a call longer than `max_in_memory_s` (default
    `IN_MEMORY_MAX_S`) is resampled as a stream into a temporary file, never held whole.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"file not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise AudioError("the file is empty (0 bytes)")
    limit = IN_MEMORY_MAX_S if max_in_memory_s is None else max_in_memory_s
    check_wav_complete(path)
    try:
        return _decode(_blocks_soundfile, path, limit)
    except AudioError:
        raise
    except Exception as sf_exc:  # libsndfile could not read it: try FFmpeg
        try:
            return _decode(_blocks_pyav, path, limit)
        except AudioError:
            raise
        except Exception as av_exc:
            raise AudioError(
                f"cannot decode audio: the file is {sniff(path)}, which neither libsndfile nor FFmpeg could decode "
                f"(libsndfile: {_decoder_said(sf_exc, path)}; FFmpeg: {_decoder_said(av_exc, path)}). "
                "Expected WAV (PCM, mu-law, A-law, GSM), MP3, FLAC, OGG/Vorbis, Opus or M4A."
            ) from None


def _decoder_said(exc: Exception, path: Path) -> str:
    """A decoder's complaint, minus the misleading ones (libsndfile says "File does not exist" of a
    file it cannot identify; PyAV raises AttributeError on a stream without a codec)."""
    msg = _clean(exc, path)
    if "does not exist" in msg or isinstance(exc, AttributeError):
        return "no decodable audio stream"
    return msg
