"""`callqa eval`: accuracy of the whole pipeline on recordings with ground truth.

Suites (each optional, skipped with a reason when its data is absent):
  roles      the AWS role-played calls (agent and caller on separate tracks), mixed here to
             stereo and to mono; reference = VAD on each clean track. DER at collar 0 and
             0.25 s (pyannote.metrics) and the share of speech time given the right role.
  pyannote   the pyannote sample: DER against its RTTM, WER/CER against its STM.
  asr        WER/CER on clips with a reference transcript (jfk; the sample calls' scripts); speech
             lost against bare faster-whisper on every real recording (`asr_loss`: bare segments
             of 3+ words where the pipeline kept under half the words); names said in the
             sample calls heard with and without name biasing (`names`).
  rubric     agreement of item outcomes with the hand labels of the sample calls; false
             auto-fails (a critical failure the labels say did not happen) counted apart.
  sentiment  accuracy and macro-F1 of the configured sentiment backend on the held-out labelled
             call utterances (tests/data/sentiment) and the sample calls' per-turn labels.
  conversation  holds found / missed / false against the sample calls' reference holds, and
             customer-profile precision/recall against their reference profiles.
  pii        personal-data recall per kind and precision (`qa.pii_eval`): synthesised spoken numbers
             with whisper's mishearings, the sample calls' scripts, bare whisper's hypotheses of
             them, and what the pipeline stored for every item read aloud in the sample calls.
Results are a JSON-able dict; `to_markdown` renders the tables shown in the README.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from qa.audio import load_audio
from qa.config import Settings
from qa.diarization import diarize
from qa.evaluation import (
    clip_turns, der, lost_segments, mix_tracks, read_rttm, read_stm, role_accuracy, role_parts, role_turns,
    text_error, two_track_reference,
)
from qa.pipeline import process_call

log = logging.getLogger(__name__)

SUITES = ("roles", "pyannote", "asr", "rubric", "sentiment", "conversation", "pii")


def _text(result) -> str:
    return " ".join(u.text for u in result.utterances)


FIRST_S = 120.0  # the opening of a call, where the rubric's greeting items live


def _aws_call(settings: Settings, shared: Path, work: Path, cache: dict, call: int, layout: str):
    """AWS role-played call `call` mixed to `layout`, processed once per eval run: (path, result, seconds)."""
    key = ("aws", call, layout)
    if key not in cache:
        agent_p = shared / "aws_lca" / f"Auto_Repairs_{call}_UTC_agent.wav"
        caller_p = shared / "aws_lca" / f"Auto_Repairs_{call}_UTC_caller.wav"
        path = mix_tracks(agent_p, caller_p, work / f"aws{call}_{layout}.wav", layout)
        path.with_suffix(".json").write_text(json.dumps({"language": "en", "direction": "inbound"}))
        t0 = time.perf_counter()
        result = process_call(path, settings)
        cache[key] = (path, result, round(time.perf_counter() - t0, 1))
    return cache[key]


def eval_roles(settings: Settings, shared: Path, work: Path, cache: dict | None = None) -> list[dict[str, Any]]:
    cache = {} if cache is None else cache
    rows = []
    for call in (40, 49):
        agent_p = shared / "aws_lca" / f"Auto_Repairs_{call}_UTC_agent.wav"
        caller_p = shared / "aws_lca" / f"Auto_Repairs_{call}_UTC_caller.wav"
        if not agent_p.exists():
            continue
        ref, duration = two_track_reference(agent_p, caller_p)
        for layout in ("stereo", "mono"):
            _, result, seconds = _aws_call(settings, shared, work, cache, call, layout)
            hyp = role_turns(result)
            roles = role_accuracy(ref, hyp, duration)
            parts = role_parts(ref, hyp, duration)
            first = role_parts(clip_turns(ref, FIRST_S), clip_turns(hyp, FIRST_S), min(duration, FIRST_S))
            d25 = der(ref, hyp, 0.25)
            rows.append({
                "recording": f"AWS call {call}", "layout": layout, "duration_s": round(duration, 1),
                "der_collar0": der(ref, hyp, 0.0)["der"], "der_collar025": d25["der"],
                "confusion_collar025": d25["confusion"],
                "role_accuracy": roles["role_accuracy"], "agent_recall": roles["agent_recall"],
                "customer_recall": roles["customer_recall"],
                "missed": parts["missed"], "swapped": parts["swapped"], "both": parts["both"],
                "false_alarm_s": parts["false_alarm_s"],
                "role_accuracy_first120": first["right"], "missed_first120": first["missed"],
                "swapped_first120": first["swapped"],
                "role_confidence": result.role_confidence,
                "role_method": result.role_method, "seconds": seconds,
            })
    return rows


def eval_pyannote(settings: Settings, shared: Path) -> list[dict[str, Any]]:
    wav = shared / "pyannote_sample" / "sample.wav"
    if not wav.exists():
        return []
    ref = read_rttm(shared / "pyannote_sample" / "sample.rttm")
    hyp = diarize(load_audio(wav), settings.diarization, settings.num_speakers, settings.pyannote_pipeline)
    result = process_call(wav, settings.model_copy(update={"language": "en"}))
    reference = " ".join(r[3] for r in read_stm(shared / "pyannote_sample" / "sample.stm"))
    text = text_error(reference, _text(result), "en")
    d0, d25 = der(ref, hyp.turns, 0.0), der(ref, hyp.turns, 0.25)
    return [{
        "recording": "pyannote sample (mono, 2 speakers, 1.9 s overlap)", "der_collar0": d0["der"],
        "der_collar025": d25["der"], "missed_collar0": d0["missed"], "false_alarm_collar0": d0["false_alarm"],
        "confusion_collar0": d0["confusion"], "wer": text.wer, "cer": text.cer,
    }]


def _sample_results(settings: Settings, samples: Path, cache: dict, key: str = "samples") -> list[tuple[dict, Any]]:
    if key not in cache:
        out = []
        for ref_path in sorted((samples / "reference").glob("*.json")):
            ref = json.loads(ref_path.read_text(encoding="utf-8"))
            audio = next((p for p in samples.glob(f"{ref['call_id']}.*") if p.suffix != ".json"), None)
            if audio is not None:
                out.append((ref, process_call(audio, settings)))
        cache[key] = out
    return cache[key]


def eval_asr(settings: Settings, shared: Path, samples: Path, work: Path, cache: dict) -> list[dict[str, Any]]:
    rows = []
    jfk = shared / "faster_whisper" / "jfk.flac"
    if jfk.exists():
        expected = json.loads((shared / "faster_whisper" / "expected_from_tests.json").read_text())
        result = process_call(jfk, settings.model_copy(update={"language": "en"}))
        s = text_error(expected["jfk.flac"]["text_sequential"], _text(result), "en")
        rows.append({"clip": "jfk.flac", "language": "en", "audio": "44.1 kHz wideband", "wer": s.wer, "cer": s.cer, "ref_words": s.ref_words})
    stereo = shared / "faster_whisper" / "stereo_diarization.wav"
    if stereo.exists():
        # one sentence per channel; the right channel plays the agent (sidecar), so each role is one channel
        expected = json.loads((shared / "faster_whisper" / "expected_from_tests.json").read_text())["stereo_diarization.wav"]
        clip = work / "stereo_diarization.wav"
        clip.write_bytes(stereo.read_bytes())
        clip.with_suffix(".json").write_text(json.dumps({"language": "en", "agent_channel": 1}))
        result = process_call(clip, settings.model_copy(update={"language": "en"}))
        for role, channel in (("customer", "left_channel"), ("agent", "right_channel")):
            said = " ".join(u.text for u in result.utterances if u.role == role)
            s = text_error(expected[channel], said, "en")
            rows.append({"clip": f"stereo_diarization.wav {channel.split('_')[0]}", "language": "en",
                         "audio": "16 kHz stereo", "wer": s.wer, "cer": s.cer, "ref_words": s.ref_words})
    for ref, result in _sample_results(settings, samples, cache):
        s = text_error(" ".join(t["text"] for t in ref["turns"]), _text(result), ref["language"])
        rows.append({"clip": ref["call_id"], "language": ref["language"], "audio": f"8 kHz {ref['layout']}",
                     "wer": s.wer, "cer": s.cer, "ref_words": s.ref_words})
    return rows


def bare_segments(model, path: Path, language: str | None, beam_size: int,
                  channel: int | None = None) -> list[tuple[float, float, str]]:
    """What bare faster-whisper hears in `path` (one channel of a stereo file when `channel` is set):
    its own decoder and its own Silero VAD with default settings; temperature 0 only, so that the
    comparison is deterministic (the pipeline decodes at temperature 0 too)."""
    from faster_whisper import decode_audio

    audio = decode_audio(str(path), split_stereo=channel is not None)
    if channel is not None:
        audio = audio[channel]
    segments, _ = model.transcribe(audio, language=language, beam_size=beam_size, vad_filter=True, temperature=0.0)
    return [(float(s.start), float(s.end), s.text.strip()) for s in segments]


def _real_recordings(settings: Settings, shared: Path, work: Path, cache: dict, only: set[str] | None = None):
    """(name, path, language, result) of every real recording in `shared` (or those named in `only`),
    processed by the pipeline."""
    for call in (40, 49):
        if (shared / "aws_lca" / f"Auto_Repairs_{call}_UTC_agent.wav").exists():
            for layout in ("stereo", "mono"):
                if only is None or f"AWS call {call} {layout}" in only:
                    path, result, _ = _aws_call(settings, shared, work, cache, call, layout)
                    yield f"AWS call {call} {layout}", path, "en", result
    en = settings.model_copy(update={"language": "en"})
    files = [("AWS PCA Auto0 (mono, 8-bit)", next(iter(sorted((shared / "aws_pca").glob("*.wav"))), None), "en"),
             ("pyannote sample", shared / "pyannote_sample" / "sample.wav", "en"),
             ("jfk.flac", shared / "faster_whisper" / "jfk.flac", "en"),
             ("stereo_diarization.wav", shared / "faster_whisper" / "stereo_diarization.wav", "en"),
             ("hotwords.mp3", shared / "faster_whisper" / "hotwords.mp3", "en"),
             ("multilingual.mp3 (language detected)", shared / "faster_whisper" / "multilingual.mp3", None)]
    for name, path, language in files:
        if path is None or not path.exists() or (only is not None and name not in only):
            continue
        key = ("real", name)
        if key not in cache:
            cache[key] = process_call(path, en if language else settings.model_copy(update={"language": "auto"}))
        yield name, path, language, cache[key]


def eval_asr_loss(settings: Settings, shared: Path, work: Path, cache: dict,
                  only: set[str] | None = None) -> list[dict[str, Any]]:
    """Per real recording (or those named in `only`): bare faster-whisper's segments of 3+ words and
    those the pipeline lost."""
    from qa.asr import load_model
    from qa.models import resolve_asr_model

    model = load_model(resolve_asr_model(settings), settings.asr_compute_type, settings.asr_threads)
    rows = []
    for name, path, language, result in _real_recordings(settings, shared, work, cache, only):
        words = [w for u in result.utterances for w in u.words]
        channels = (0, 1) if result.channels == 2 else (None,)
        lost, n_segments = [], 0
        for ch in channels:
            bare = bare_segments(model, path, language, settings.asr_beam_size, ch)
            n_segments += sum(len(t.split()) >= 3 for _, _, t in bare)
            mine = [w for w in words if ch is None or w.channel == ch]
            lost += lost_segments(bare, mine, channel=ch)
        rows.append({"recording": name, "bare_segments": n_segments, "lost": len(lost),
                     "pipeline_words": len(words),
                     "lost_segments": [vars(x) for x in lost]})
    return rows


def eval_names(settings: Settings, samples: Path, cache: dict,
               modes: tuple[str, ...] = ("off", "hotwords", "prompt")) -> list[dict[str, Any]]:
    """Per sample call that says names (the rubric's company, the agent's name): name words heard and
    WER with each name-biasing mode (`asr_name_bias`); the configured mode reuses the run of the
    other suites."""
    from qa.evaluation import name_hits

    rows: dict[str, dict[str, Any]] = {}
    for mode in modes:
        if mode == settings.asr_name_bias:
            results = _sample_results(settings, samples, cache)
        else:
            results = _sample_results(settings.model_copy(update={"asr_name_bias": mode}), samples, cache, key=mode)
        for ref, result in results:
            reference = " ".join(t["text"] for t in ref["turns"])
            names = [*([ref["company"]] if ref.get("company") else []), result.metadata.agent_name or ""]
            said, heard = name_hits(reference, _text(result), [n for n in names if n], ref["language"])
            if not said:
                continue
            row = rows.setdefault(ref["call_id"], {"clip": ref["call_id"], "name_words": said})
            row[f"names_{mode}"] = round(heard / said, 3)
            row[f"wer_{mode}"] = text_error(reference, _text(result), ref["language"]).wer
    out = list(rows.values())
    if out:
        total = sum(r["name_words"] for r in out)
        summary: dict[str, Any] = {"clip": "all", "name_words": total}
        for mode in modes:
            summary[f"names_{mode}"] = round(sum(r[f"names_{mode}"] * r["name_words"] for r in out) / total, 3)
            summary[f"wer_{mode}"] = round(sum(r[f"wer_{mode}"] for r in out) / len(out), 4)
        out.append(summary)
    return out


def eval_rubric(settings: Settings, samples: Path, cache: dict) -> dict[str, Any]:
    per_item: dict[str, dict[str, int]] = {}
    false_auto_fails = []
    rubrics = set()
    for ref, result in _sample_results(settings, samples, cache):
        got = {r.item_id: r.outcome for r in result.item_results}
        if result.call_score:
            rubrics.add(f"{result.call_score.rubric_id} v{result.call_score.rubric_version}")
        # an auto-fail is false when no critical item that failed is labelled as failed
        critical_fails = [r.item_id for r in result.item_results if r.critical and r.outcome == "fail"]
        if (result.call_score and result.call_score.auto_failed
                and not any(ref["labels"].get(i) == "fail" for i in critical_fails)):
            false_auto_fails.append(ref["call_id"])
        for item, label in ref["labels"].items():
            if item not in got:
                continue
            stats = per_item.setdefault(item, {"n": 0, "agree": 0, "tp": 0, "fp": 0, "fn": 0})
            stats["n"] += 1
            stats["agree"] += got[item] == label
            # "positive" = the item failed (what a reviewer acts on)
            stats["tp"] += got[item] == "fail" and label == "fail"
            stats["fp"] += got[item] == "fail" and label != "fail"
            stats["fn"] += got[item] != "fail" and label == "fail"
    n = sum(s["n"] for s in per_item.values())
    agree = sum(s["agree"] for s in per_item.values())
    return {"items": per_item, "agreement": round(agree / n, 3) if n else None, "decisions": n,
            "false_auto_fails": false_auto_fails, "rubrics": sorted(rubrics)}


def eval_sentiment(settings: Settings) -> list[dict[str, Any]]:
    from qa.sentiment.evaluate import eval_sentiment_suite

    rows = eval_sentiment_suite(settings.sentiment, settings.embedding_model)
    return [{k: v for k, v in r.items() if k not in ("errors",)} for r in rows]


def eval_conversation(settings: Settings, samples: Path, cache: dict) -> dict[str, Any]:
    from qa.holds import match_holds
    from qa.profiles import evaluate_profiles

    holds = {"found": 0, "missed": 0, "false": 0}
    predicted, reference = {}, {}
    for ref, result in _sample_results(settings, samples, cache):
        got = [(e.start_s, e.end_s) for e in result.events if e.kind == "hold"]
        want = [(h["start_s"], h["end_s"]) for h in ref.get("holds", [])]
        for k, v in match_holds(got, want).items():
            holds[k] = holds.get(k, 0) + v
        predicted[ref["call_id"]] = [p.profile for p in result.profiles]
        reference[ref["call_id"]] = ref.get("customer_profiles", [])
    return {"holds": holds, "profiles": evaluate_profiles(predicted, reference)}


def eval_pii(settings: Settings, samples: Path, cache: dict, pipeline: bool = True) -> dict[str, Any]:
    """PII recall per kind and precision on four sources (see `qa.pii_eval`)."""
    from qa import pii_eval

    out: dict[str, Any] = {"synthetic": pii_eval.score_cases(pii_eval.synthetic_cases() + pii_eval.utterance_negatives())}
    if (samples / "reference").is_dir():
        out["scripts"] = pii_eval.score_cases(pii_eval.reference_cases(samples))
        out["whisper_base"] = pii_eval.score_cases(pii_eval.hypothesis_cases(samples))
        if pipeline:
            rows = [r for ref, result in _sample_results(settings, samples, cache)
                    for r in pii_eval.score_sample_call(ref, result)]
            out["pipeline"] = pii_eval.summarise_sample_rows(rows)
    return out


def _pii_markdown(res: dict[str, Any]) -> list[str]:
    rows = []
    for source, r in res.items():
        for kind, v in r["per_kind"].items():
            rows.append({"source": source, "kind": kind, "items": v["items"], "recall": v["recall"],
                         "6+ digits left": v["leaked_6plus"]})
    prec = [f"{s}: {r['precision']} ({r['false_positives']} false of {r['redactions']}, {r['negatives']} negatives)"
            for s, r in res.items() if "precision" in r]
    return ["\n**Personal data** (recall: covered and < 6 digits of the value readable)\n",
            _table(rows, ["source", "kind", "items", "recall", "6+ digits left"]),
            "\nPrecision: " + "; ".join(prec)]


def _missing(settings: Settings, shared: Path, samples: Path) -> dict[str, str]:
    """Suite -> why it cannot run here (its recordings or references are absent)."""
    refs = list((samples / "reference").glob("*.json")) if (samples / "reference").is_dir() else []
    no_samples = f"no sample calls with references in {samples / 'reference'}"
    out = {}
    if not (shared / "aws_lca" / "Auto_Repairs_40_UTC_agent.wav").exists():
        out["roles"] = f"the AWS role-played calls are not in {shared / 'aws_lca'}"
    if not (shared / "pyannote_sample" / "sample.wav").exists():
        out["pyannote"] = f"the pyannote sample is not in {shared / 'pyannote_sample'}"
    if not refs and not (shared / "faster_whisper" / "jfk.flac").exists():
        out["asr"] = f"neither {shared / 'faster_whisper'} nor sample references"
    if not refs:
        out["rubric"] = out["conversation"] = out["pii"] = no_samples
    if settings.sentiment == "off":
        out["sentiment"] = "sentiment is switched off in the settings"
    return out


def run_eval(settings: Settings, shared: Path, samples: Path, work: Path, suites=SUITES) -> dict[str, Any]:
    """Run `suites`; a suite whose data is absent is skipped with the reason, one that raises is
    recorded with its error and the others still run. Seconds per suite under `suite_seconds`."""
    from qa.sysinfo import machine

    work.mkdir(parents=True, exist_ok=True)
    cache: dict = {}
    t0 = time.perf_counter()
    out: dict[str, Any] = {
        "machine": machine(),
        "settings": {"asr_model": settings.asr_model, "compute_type": settings.asr_compute_type,
                     "threads": settings.asr_threads, "beam_size": settings.asr_beam_size,
                     "language": settings.language, "sentiment": settings.sentiment,
                     "asr_name_bias": settings.asr_name_bias,
                     "embedding_model": settings.embedding_model},
        "skipped": {}, "errors": {}, "suite_seconds": {},
    }
    runners = {
        "roles": lambda: eval_roles(settings, shared, work, cache),
        "pyannote": lambda: eval_pyannote(settings, shared),
        # several result keys: WER/CER, speech lost against bare whisper
        "asr": lambda: {"asr": eval_asr(settings, shared, samples, work, cache),
                        "asr_loss": eval_asr_loss(settings, shared, work, cache),
                        "names": eval_names(settings, samples, cache)},
        "rubric": lambda: eval_rubric(settings, samples, cache),
        "sentiment": lambda: eval_sentiment(settings),
        "conversation": lambda: eval_conversation(settings, samples, cache),
        "pii": lambda: eval_pii(settings, samples, cache),
    }
    missing = _missing(settings, shared, samples)
    for suite in SUITES:
        if suite not in suites:
            continue
        if suite in missing:
            out["skipped"][suite] = missing[suite]
            continue
        t_suite = time.perf_counter()
        try:
            got = runners[suite]()
            if isinstance(got, dict) and suite in got:
                out.update(got)
            else:
                out[suite] = got
        except Exception as exc:  # one broken suite must not lose the others' figures
            log.exception("eval suite %s failed", suite)
            out["errors"][suite] = f"{type(exc).__name__}: {exc}"
        out["suite_seconds"][suite] = round(time.perf_counter() - t_suite, 1)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    def fmt(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def to_markdown(res: dict[str, Any]) -> str:
    from qa.sysinfo import machine_line

    st = res["settings"]
    parts = [f"Machine: {machine_line(res['machine'])}. ASR {st['asr_model']} {st['compute_type']}, "
             f"{st.get('threads', '?')} threads, beam {st['beam_size']}; {res.get('seconds', 0) / 60:.0f} min in all "
             f"({', '.join(f'{k} {v:.0f} s' for k, v in res.get('suite_seconds', {}).items())})."]
    for suite, why in res.get("skipped", {}).items():
        parts.append(f"\n**{suite}**: skipped ({why})")
    for suite, error in res.get("errors", {}).items():
        parts.append(f"\n**{suite}**: failed ({error})")
    if res.get("roles"):
        parts += ["\n**Who spoke when, and who is the agent** (AWS role-played calls; shares of single-speaker "
                  "reference speech: right role, no role (missed), the other role (swapped); whole call and first "
                  f"{FIRST_S:.0f} s)\n",
                  _table(res["roles"], ["recording", "layout", "der_collar0", "der_collar025", "role_accuracy",
                                        "missed", "swapped", "false_alarm_s", "role_accuracy_first120",
                                        "missed_first120", "swapped_first120", "agent_recall",
                                        "customer_recall", "role_confidence"])]
    if res.get("pyannote"):
        parts += ["\n**pyannote sample**\n", _table(res["pyannote"], ["recording", "der_collar0", "der_collar025", "confusion_collar0", "wer", "cer"])]
    if res.get("asr"):
        parts += ["\n**Transcription** (Turkish-aware normalisation)\n", _table(res["asr"], ["clip", "language", "audio", "wer", "cer", "ref_words"])]
    if res.get("asr_loss"):
        parts += ["\n**Speech lost against bare faster-whisper** (same model, beam and language, its own VAD; "
                  "a bare segment of 3+ words is lost when the pipeline has under half as many words there)\n",
                  _table(res["asr_loss"], ["recording", "bare_segments", "lost", "pipeline_words"])]
    if res.get("names"):
        cols = ["clip", "name_words"] + [f"{k}_{m}" for m in ("off", "hotwords", "prompt") for k in ("names", "wer")]
        parts += ["\n**Names heard** (share of the company's and agent's name words said in the sample calls that "
                  "the transcript has, and WER, without and with name biasing; the configured mode is "
                  f"`{res['settings'].get('asr_name_bias', '')}`)\n", _table(res["names"], cols)]
    if res.get("rubric"):
        r = res["rubric"]
        rows = [{"item": k, "decisions": v["n"], "agreement": round(v["agree"] / v["n"], 3),
                 "fail precision": round(v["tp"] / (v["tp"] + v["fp"]), 3) if v["tp"] + v["fp"] else "-",
                 "fail recall": round(v["tp"] / (v["tp"] + v["fn"]), 3) if v["tp"] + v["fn"] else "-"}
                for k, v in sorted(r["items"].items())]
        parts += [f"\n**Rubric decisions vs hand labels**: agreement {r['agreement']} over {r['decisions']} decisions; "
                  f"false auto-fails: {len(r['false_auto_fails'])} ({', '.join(r.get('rubrics', []))})\n",
                  _table(rows, ["item", "decisions", "agreement", "fail precision", "fail recall"])]
    if res.get("sentiment"):
        rows = [{"set": r["set"], "language": r["language"], "n": r["n"], "accuracy": r["accuracy"],
                 "macro_f1": r["macro_f1"]} for r in res["sentiment"]]
        parts += [f"\n**Sentiment** ({res['settings'].get('sentiment', '')})\n",
                  _table(rows, ["set", "language", "n", "accuracy", "macro_f1"])]
    if res.get("conversation"):
        c = res["conversation"]
        h, micro = c["holds"], c["profiles"]["micro"]
        rows = [{"profile": k, "tp": v["tp"], "fp": v["fp"], "fn": v["fn"], "precision": v["precision"],
                 "recall": v["recall"]} for k, v in c["profiles"]["per_profile"].items()]
        parts += [f"\n**Holds** (sample calls): found {h['found']}, missed {h['missed']}, false {h['false']}\n",
                  f"**Customer profiles** (sample calls): micro precision {micro['precision']}, recall {micro['recall']}\n",
                  _table(rows, ["profile", "tp", "fp", "fn", "precision", "recall"])]
    if res.get("pii"):
        parts += _pii_markdown(res["pii"])
    return "\n".join(parts) + "\n"
