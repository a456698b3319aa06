"""The benchmark harness itself, on tiny inputs: real stores, real child processes, real audio."""

from __future__ import annotations

import json

import pytest
import soundfile as sf

from benchmarks import bench_memory, bench_store, bench_throughput, common
from tests.conftest import shared


@pytest.mark.parametrize(
    "num, den, expected", [(3.0, 2.0, 1.5), (1.0, 3.0, 0.333), (5.0, 0.0, None), (0.0, 4.0, 0.0)]
)
def test_ratio(num, den, expected):
    assert common.ratio(num, den) == expected


def test_percentiles_in_ms():
    assert common.percentiles([0.1, 0.3, 0.2]) == {"p50_ms": 200.0, "max_ms": 300.0, "n": 3}


def test_table_formats_missing_and_large_values():
    md = common.table([{"a": "x", "b": 1234.5678, "c": None}, {"a": "y", "b": 0.12345, "c": 3}], ["a", "b", "c"])
    lines = md.splitlines()
    assert lines[0] == "| a | b | c |" and lines[1] == "|---|---|---|"
    assert lines[2] == "| x | 1,234.6 | – |" and lines[3] == "| y | 0.123 | 3 |"


def test_machine_describes_cpu_ram_and_versions():
    m = common.machine()
    assert m["cores"] >= 1 and m["ram_gb"] > 0 and m["versions"]["duckdb"]
    line = common.machine_line(m)
    assert m["cpu"] in line and "DuckDB" in line


def test_child_peak_rss_is_measured_from_the_kernel():
    code = "import json, numpy as np; a = np.ones(300 * 2**20 // 8); print(json.dumps({'sum': float(a[:10].sum())}))"
    run = common.run_child(["-c", code])
    assert run.returncode == 0 and run.output == {"sum": 10.0}
    assert run.peak_rss_mb >= 300  # the 300 MB array counts; the parent's memory does not
    small = common.run_child(["-c", "print('{}')"])
    assert small.peak_rss_mb < run.peak_rss_mb - 250


def test_child_failure_is_reported_not_raised():
    run = common.run_child(["-c", "raise SystemExit('broken probe')"])
    assert run.returncode == 1 and "broken probe" in run.stderr_tail and run.output == {}


def test_long_recording_is_made_by_concatenation(tmp_path):
    shared("aws_lca")
    path = bench_memory.make_long_recording(0.2, "stereo", tmp_path)  # 12 s from the AWS calls
    info = sf.info(str(path))
    assert info.channels == 2 and info.samplerate == 8000 and info.frames == 12 * 8000
    assert json.loads(path.with_suffix(".json").read_text())["language"] == "en"
    long = bench_memory.make_long_recording(8.5, "mono", tmp_path)  # longer than one call: wraps around
    assert sf.info(str(long)).frames == int(8.5 * 60 * 8000) and sf.info(str(long)).channels == 1


def test_store_bench_at_300_calls(tmp_path):
    res = bench_store.bench_size(300, tmp_path, repeats=2)
    assert res["counts"]["calls"] == 300
    assert res["counts"]["utterances"] == 294 * bench_store.UTTERANCES_PER_CALL  # every 50th call failed
    n_items = len(bench_store._items()[0])
    assert res["counts"]["item_results"] == 294 * n_items and res["counts"]["call_scores"] == 294
    names = {r["query"] for r in res["rows"]}
    assert {"list_calls", "agent_summary", "get_item_results", "Store.find_by_sha", "Store.save_call (40 utterances)",
            bench_store.FLOOR, "page: Calls (cold)", "page: Call (cold)"} <= names
    assert all(r["n"] == 2 and 0 < r["p50_ms"] <= r["max_ms"] for r in res["rows"])
    by_name = {r["query"]: r["p50_ms"] for r in res["rows"]}
    # a whole page reads several times over, so it costs more than the floor of one read
    assert by_name["page: Calls (cold)"] > by_name[bench_store.FLOOR]
    md = bench_store.to_markdown({"sizes": [res], "repeats": 2})
    assert "p50 ms @ 300" in md and "list_calls" in md and "p50 / floor @ 300" in md
    floor_row = next(line for line in md.splitlines() if line.startswith(f"| {bench_store.FLOOR}"))
    assert floor_row.endswith("| 1.0 |") or floor_row.endswith("| 1.000 |")


def test_store_bench_data_reads_like_real_calls(tmp_path):
    from dashboards import data
    from qa.access.model import LOCAL_ADMIN as ADMIN

    db = tmp_path / "s.duckdb"
    bench_store.build_store(db, 120)
    calls = data.list_calls(db, ADMIN)
    assert len(calls) == 120 and set(calls["status"]) == {"ok", "failed"}
    assert calls["score_pct"].notna().sum() == 117 and calls["failed_items"].max() > 0
    items = data.get_item_results(db, ADMIN, "call-0000001")
    assert len(items) == len(bench_store._items()[0]) and not items["title"].str.startswith("greet_company").any()  # titles from the rubric
    assert len(data.get_utterances(db, ADMIN, "call-0000001")) == bench_store.UTTERANCES_PER_CALL


def test_throughput_split_balances_audio(tmp_path):
    lengths = [30, 20, 10, 10, 5, 5]
    files = []
    for i, seconds in enumerate(lengths):
        p = tmp_path / f"f{i}.wav"
        sf.write(p, [[0.0]] * (seconds * 800), 800)
        files.append(p)
    shares = bench_throughput.split(files, 2)
    loads = sorted(sum(common.audio_seconds(p) for p in s) for s in shares)
    assert loads == [40.0, 40.0] and sorted(p for s in shares for p in s) == sorted(files)


@pytest.mark.slow
def test_memory_probe_on_a_short_clip():
    row = bench_memory.measure(shared("faster_whisper", "jfk.flac"))
    assert row["ok"] and row["peak_rss_mb"] > 200 and row["channels"] == 1
    assert {"decode", "diarization", "asr"} <= set(row["timings"])


@pytest.mark.slow
def test_run_all_quick_writes_results(tmp_path):
    from benchmarks import run_all

    res = run_all.run(("pipeline", "store"), quick=True, out_dir=tmp_path)
    saved = json.loads((tmp_path / "quick.json").read_text())
    assert set(saved["sections"]) == {"pipeline", "store"} and "error" not in saved["sections"]["pipeline"]
    assert saved["sections"]["pipeline"]["ratio"] > 0
    md = (tmp_path / "quick.md").read_text()
    assert "Pipeline vs bare faster-whisper" in md and "Store and dashboard queries" in md
    assert res["machine"]["cpu"] in md
