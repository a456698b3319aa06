"""Rescoring stored calls and comparing two rubric versions at 10k and 100k calls.

The store is `bench_store.build_store`'s (40 utterances, metrics and a score per call) with
two changes that make scoring honest work: every utterance gets a text of its own (three
fragments of agent and customer speech, some of them the rubric's phrases with ASR-like
spellings, and a number: practically no two utterances alike, so no cache can remember a
whole text), and every third call gets a hold, so the hold items are scored too.

The floor, measured in the same run, is reading the same rows once: one read-only
connection, the four queries scoring needs (calls, utterances, metrics, events) over the
same calls, fully fetched. Each figure prints as a multiple of it.

    python -m benchmarks.bench_rescore                 # 10k and 100k calls
    python -m benchmarks.bench_rescore --quick         # 300 calls (harness test)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_store import build_store
from benchmarks.common import machine, machine_line, ratio, table, timed, write_result

_FRAGMENTS = [
    # agent
    "Anadolu Telekom'a hoş geldiniz", "anadolu telekoma hosgeldiniz", "benim adım Ayşe", "ben müşteri temsilcisi Cem",
    "doğrulama için TC kimlik numaranızı alabilir miyim", "doğum tarihinizi öğrenebilir miyim",
    "anladığım kadarıyla faturanız iki kez çekilmiş", "yani internetiniz iki gündür kopuyor doğru mu",
    "çok üzgünüm", "kusura bakmayın", "anlıyorum", "geçmiş olsun", "size söz veriyorum", "bunu garanti edemem",
    "sizi kısa bir süre beklemeye alabilir miyim", "beklediğiniz için teşekkür ederim", "bir saniye bakıyorum",
    "başka yardımcı olabileceğim bir konu var mı", "baska yardimci olabilecegim bir konu var mi",
    "bizi aradığınız için teşekkür ederiz", "iyi günler", "iyi gunler efendim", "kaydınızı kontrol ediyorum",
    "talebinizi ilgili birime iletiyorum", "kargo yarın teslim edilecek", "iade süreci beş iş günü sürüyor",
    "thank you for calling", "my name is John", "I'm so sorry for the inconvenience", "let me look into that",
    "is there anything else I can help you with", "have a nice day",
    # customer
    "siparişimin durumunu öğrenmek istiyorum", "faturam çok yüksek geldi", "internetim çalışmıyor",
    "iki gündür bekliyorum", "bu kaçıncı arayışım", "tamam teşekkürler", "evet doğru", "hayır o değil",
    "numaram sıfır beş yüz otuz iki", "adresim Kadıköy İstanbul", "I would like to check my order",
    "the bill is wrong again", "yes that's right", "no thanks",
]


def vary_texts(path: Path, seed: int = 7, hold_every: int = 3) -> None:
    """Give every utterance its own text and every `hold_every`-th call a hold (see the module docstring)."""
    import duckdb

    frags = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in _FRAGMENTS) + "]"
    k = len(_FRAGMENTS)
    con = duckdb.connect(str(path))
    try:
        con.execute(f"SELECT setseed({seed / 100})")
        con.execute(f"""
            UPDATE utterances SET text =
              {frags}[1 + (hash(call_id, idx, 1) % {k})::BIGINT] || ', ' ||
              {frags}[1 + (hash(call_id, idx, 2) % {k})::BIGINT] || ' ' ||
              CAST(hash(call_id, idx, 3) % 10000 AS VARCHAR) || ' ' ||
              {frags}[1 + (hash(call_id, idx, 4) % {k})::BIGINT]""")
        con.execute(f"""
            INSERT INTO call_events SELECT call_id, 0, 'hold', 60.0, 90.0, '{{"asked": true, "thanked": true}}'
            FROM calls WHERE status = 'ok' AND hash(call_id) % {hold_every} = 0""")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def read_floor(db: Path, call_ids: list[str]) -> float:
    """Seconds to read the rows scoring needs once: one read-only connection, four set-based queries."""
    import duckdb

    with timed() as t:
        con = duckdb.connect(str(db), read_only=True)
        try:
            con.execute("CREATE TEMP TABLE wanted AS SELECT unnest(?::VARCHAR[]) AS call_id", [call_ids])
            for sql in (
                "SELECT c.* FROM calls c JOIN wanted USING (call_id)",
                "SELECT u.* FROM utterances u JOIN wanted USING (call_id) ORDER BY u.call_id, idx",
                "SELECT m.* FROM call_metrics m JOIN wanted USING (call_id)",
                "SELECT e.* FROM call_events e JOIN wanted USING (call_id) ORDER BY e.call_id, idx",
            ):
                con.execute(sql).fetchall()
        finally:
            con.close()
    return t.seconds


def edited_rubric(rubric_path: Path, out: Path, version: str = "next") -> Path:
    """A plausible next version of a tr_inbound-like rubric: a stricter greeting, overpromising no longer
    critical, one more closing phrase."""
    text = rubric_path.read_text(encoding="utf-8")
    text = text.replace('version: "4"', f'version: "{version}"', 1)
    text = text.replace('any: ["{company}"]', 'any: ["{company}"]\n          threshold: 97', 1)
    text = text.replace("critical: true", "critical: false", 1)
    text = text.replace('"başka sorunuz var mı"]', '"başka sorunuz var mı", "yardımcı olabileceğim başka bir şey"]', 1)
    out.write_text(text, encoding="utf-8")
    return out


class _Cpu:
    """CPU seconds of this process and its finished children over a block (the figure load does not inflate)."""

    def __enter__(self):
        import resource

        self._t = time.process_time()
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._c = ch.ru_utime + ch.ru_stime
        return self

    def __exit__(self, *exc):
        import resource

        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.seconds = time.process_time() - self._t + ch.ru_utime + ch.ru_stime - self._c
        return False


def _uptime() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def bench_size(n_calls: int, work: Path, workers: tuple[int, ...] = (1, 2), old_sample: int = 0) -> dict[str, Any]:
    from qa.config import load_settings
    from qa.rescore import rescore, rescore_per_call, select_calls
    from qa.rubric.compare import compare
    from qa.rubric.schema import load_rubric
    from qa.store import Store

    settings = load_settings()
    base = work / f"rescore_{n_calls}.duckdb"
    base.unlink(missing_ok=True)
    built = build_store(base, n_calls)
    vary_texts(base)
    store = Store(base)
    ids = select_calls(store)
    rows: list[dict[str, Any]] = []
    load = _uptime()
    with _Cpu() as cpu:
        floor = min(read_floor(base, ids) for _ in range(3))
    rows.append({"what": "floor: read the same rows once", "seconds": floor, "cpu_s": cpu.seconds / 3, "load": load})
    for w in workers:
        copy = work / f"copy_{n_calls}_{w}.duckdb"
        shutil.copy(base, copy)
        load = _uptime()
        with timed() as t, _Cpu() as cpu:
            out = rescore(Store(copy), settings, None, ids, workers=w)
        ok = sum(o.status == "ok" for o in out)
        rows.append({"what": f"rescore, {w} process(es)", "seconds": t.seconds, "cpu_s": cpu.seconds, "load": load,
                     "calls": ok})
        copy.unlink()
    old = load_rubric(settings.rubric_dir / "tr_inbound.yaml")
    new = load_rubric(edited_rubric(settings.rubric_dir / "tr_inbound.yaml", work / "tr_next.yaml"))
    if n_calls <= 20_000:
        load = _uptime()
        with timed() as t, _Cpu() as cpu:
            res = compare(store, settings, old, new, ids, workers=max(workers))
        rows.append({"what": f"rubric compare (tr_inbound v4 vs an edit), {max(workers)} process(es)",
                     "seconds": t.seconds, "cpu_s": cpu.seconds, "load": load, "calls": res.calls})
    if old_sample:
        copy = work / f"old_{n_calls}.duckdb"
        shutil.copy(base, copy)
        load = _uptime()
        with timed() as t, _Cpu() as cpu:
            rescore_per_call(Store(copy), settings, None, ids[:old_sample])
        scale = len(ids) / old_sample
        rows.append({"what": f"old per-call rescore ({old_sample} calls, extrapolated)", "seconds": t.seconds * scale,
                     "cpu_s": cpu.seconds * scale, "load": load, "calls": len(ids), "measured_s": t.seconds})
        copy.unlink()
    for r in rows:
        r["x_floor"] = ratio(r["seconds"], floor)
        r["ms_per_call"] = round(1000 * r["seconds"] / len(ids), 2)
        r["cpu_ms_per_call"] = round(1000 * r["cpu_s"] / len(ids), 2)
    base.unlink(missing_ok=True)
    return {"calls": n_calls, "scored_calls": len(ids), **built, "rows": rows}


def run(sizes: tuple[int, ...] = (10_000, 100_000), workers: tuple[int, ...] = (1, 2), old_sample: int = 50,
        work: Path | None = None) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory(prefix="callqa-rescore-") if work is None else None
    work = Path(tmp.name) if tmp else Path(work)
    try:
        out = []
        for n in sizes:
            t0 = time.perf_counter()
            # every process count at the first size; the largest only beyond it (one run there takes minutes)
            res = bench_size(n, work, workers if n == sizes[0] else (max(workers),), old_sample if n == sizes[0] else 0)
            print(f"  {n} calls: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            out.append(res)
        return {"sizes": out}
    finally:
        if tmp:
            tmp.cleanup()


def to_markdown(res: dict[str, Any]) -> str:
    parts = []
    for s in res["sizes"]:
        parts.append(
            f"**Rescoring at {s['calls']:,} calls** ({s['scored_calls']:,} stored ok, {s['counts']['utterances']:,} "
            f"utterances, {s['size_mb']} MB; load average at the start of each row; CPU = this process and its "
            f"workers)\n\n"
            + table(s["rows"], ["what", "seconds", "ms_per_call", "x_floor", "cpu_s", "cpu_ms_per_call", "load"],
                    ["what", "wall s", "wall ms per call", "wall / floor", "CPU s", "CPU ms per call", "load"]) + "\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--workers", default="1,2", help="process counts to time rescoring with")
    p.add_argument("--old-sample", type=int, default=50, help="calls to time the old per-call path on (0: skip)")
    p.add_argument("--quick", action="store_true", help="300 calls")
    p.add_argument("--out", type=Path, default=None, help="write bench_rescore.json/.md here")
    args = p.parse_args(argv)
    sizes = (300,) if args.quick else tuple(int(x) for x in args.sizes.split(","))
    workers = tuple(int(x) for x in args.workers.split(","))
    res = run(sizes, workers, 5 if args.quick else args.old_sample)
    res["machine"] = machine()
    md = to_markdown(res) + f"\nMachine: {machine_line(res['machine'])}\n"
    print(md)
    if args.out:
        write_result("bench_rescore", res, md, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
