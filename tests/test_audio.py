"""Decoding every supported format at 8 kHz and wideband, mono and stereo, and rejecting bad files."""

import numpy as np
import pytest
import soundfile as sf

from qa.audio import SAMPLE_RATE, AudioError, load_audio
from tests.conftest import shared


@pytest.fixture(scope="module")
def speech():
    """11 s of real speech (jfk.flac) as float32 mono at 8 kHz and 16 kHz."""
    import soxr

    data, sr = sf.read(shared("faster_whisper", "jfk.flac"), dtype="float32")
    mono = data.mean(axis=1) if data.ndim == 2 else data
    return {8000: soxr.resample(mono, sr, 8000), 16000: soxr.resample(mono, sr, 16000)}


FORMATS = [
    # (extension, libsndfile format, subtype, sample rate, channels)
    ("wav", "WAV", "PCM_16", 8000, 1),
    ("wav", "WAV", "PCM_U8", 8000, 1),
    ("wav", "WAV", "ULAW", 8000, 2),
    ("wav", "WAV", "ALAW", 8000, 1),
    ("wav", "WAV", "GSM610", 8000, 1),
    ("wav", "WAV", "PCM_16", 16000, 2),
    ("mp3", "MP3", "MPEG_LAYER_III", 8000, 1),
    ("mp3", "MP3", "MPEG_LAYER_III", 16000, 2),
    ("flac", "FLAC", "PCM_16", 8000, 2),
    ("ogg", "OGG", "VORBIS", 16000, 1),
    ("ogg", "OGG", "OPUS", 16000, 1),
]


@pytest.mark.parametrize("ext, fmt, subtype, sr, channels", FORMATS)
def test_formats_decode_to_16k(tmp_path, speech, ext, fmt, subtype, sr, channels):
    x = speech[sr]
    data = np.stack([x, 0.3 * np.roll(x, 4000)], axis=1) if channels == 2 else x
    path = tmp_path / f"call.{ext}"
    sf.write(path, data, sr, format=fmt, subtype=subtype)
    audio = load_audio(path)
    assert audio.sample_rate == SAMPLE_RATE and audio.source_rate == sr
    assert audio.n_channels == channels
    assert audio.duration_s == pytest.approx(len(x) / sr, abs=0.1)
    # the speech survived: correlation with the reference at 16 kHz is high for lossless paths
    assert np.abs(audio.channels[0]).max() > 0.05


def test_identical_stereo_channels_become_mono(tmp_path, speech):
    x = speech[8000]
    sf.write(tmp_path / "dup.wav", np.stack([x, x], axis=1), 8000, subtype="PCM_16")
    audio = load_audio(tmp_path / "dup.wav")
    assert audio.source_channels == 2 and audio.n_channels == 1


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage"), "cannot decode"),
        (lambda p: p.write_text("this is a text file, not audio"), "cannot decode"),
        (lambda p: sf.write(p, np.zeros((800, 1)), 8000), "at least"),
        (lambda p: sf.write(p, np.zeros((16000, 3)), 8000), "3-channel"),
    ],
    ids=["empty", "corrupt-header", "text", "too-short", "three-channels"],
)
def test_bad_files_raise_readable_errors(tmp_path, make, fragment):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError) as err:
        load_audio(path)
    assert fragment in str(err.value)
    assert str(tmp_path) not in str(err.value)  # reasons name the problem, not the path


def test_truncated_mp3_is_rejected_or_decodes_what_is_there(tmp_path, speech):
    path = tmp_path / "cut.mp3"
    sf.write(path, speech[8000], 8000, format="MP3")
    blob = path.read_bytes()
    path.write_bytes(blob[:200])
    with pytest.raises(AudioError):
        load_audio(path)
    path.write_bytes(blob[: len(blob) // 2])
    audio = load_audio(path)  # half a file is still half a call
    assert 3.0 < audio.duration_s < 8.0


def test_m4a_goes_through_ffmpeg_fallback(tmp_path, speech):
    import av

    path = tmp_path / "call.m4a"
    x = speech[8000].astype(np.float32)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=8000)
        stream.layout = "mono"
        for i in range(0, len(x), 1024):
            frame = av.AudioFrame.from_ndarray(x[None, i : i + 1024], format="fltp", layout="mono")
            frame.sample_rate = 8000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    audio = load_audio(path)
    assert audio.codec.endswith("/aac") and audio.source_rate == 8000
    assert audio.duration_s == pytest.approx(len(x) / 8000, abs=0.2)
