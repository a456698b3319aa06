"""Fast rescoring equals the call-by-call path; `rubric compare` equals two separate rescoring runs.

Stores are `benchmarks.bench_store.build_store`'s synthetic calls with a text of their own per
utterance (`bench_rescore.vary_texts`): rubric phrases with ASR-like spellings among other
speech, holds on every third call, two languages, failed calls among them.
"""

from __future__ import annotations

import glob
import json
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.bench_rescore import vary_texts
from benchmarks.bench_store import build_store
from qa.rescore import rescore, rescore_per_call, select_calls
from qa.rubric.matching import PhraseMatcher, phrase_similarity
from qa.rubric.schema import load_rubric, parse_rubric
from qa.store import Store

REPO = Path(__file__).resolve().parent.parent
ITEMS = "SELECT * EXCLUDE (created_at) FROM item_results ORDER BY ALL"
SCORES = "SELECT * EXCLUDE (scored_at) FROM call_scores ORDER BY ALL"


@pytest.fixture(scope="module")
def varied(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("varied") / "calls.duckdb"
    build_store(db, 120, seed=11)
    vary_texts(db, seed=11)
    return db


def _copy(src: Path, dst: Path) -> Store:
    shutil.copy(src, dst)
    return Store(dst)


def _phrases(check, out: set[str]) -> None:
    for key in ("any", "all", "none"):
        out.update(getattr(check, key, None) or [])
    for sub in getattr(check, "checks", None) or []:
        _phrases(sub, out)


def test_the_matcher_computes_exactly_the_definition():
    """Every rubric phrase against real sample lines, rubric test lines and ASR-like mutations of them."""
    rng = random.Random(3)
    for path in sorted(glob.glob(str(REPO / "scoring_rubrics" / "*.yaml"))):
        rubric = load_rubric(path)
        found: set[str] = set()
        for _, item in rubric.items():
            _phrases(item.check, found)
        phrases = sorted(set(rubric.expand(sorted(found), {"agent_first_name": ["Ayşe"], "agent_name": ["Ayşe Demir"]})))
        texts = [u["text"] for case in rubric.tests for u in case.get("utterances", [])]
        for ref in sorted((REPO / "sample_audio" / "reference").glob("*.json")):
            data = json.loads(ref.read_text(encoding="utf-8"))
            if data.get("language", "tr") == rubric.language:
                texts += [t["text"] for t in data.get("turns", [])][:15]

        def mutate(text: str) -> str:
            words = text.split()
            for _ in range(rng.randint(0, 3)):
                op = rng.random()
                if op < 0.3 and words:
                    words.pop(rng.randrange(len(words)))
                elif op < 0.6:
                    words.insert(rng.randrange(len(words) + 1), rng.choice(phrases).split()[0])
                elif words:
                    i = rng.randrange(len(words))
                    w = words[i]
                    if len(w) > 2:
                        j = rng.randrange(len(w))
                        words[i] = w[:j] + rng.choice("aeıioöuükltrsşn") + w[j + 1:]
            return " ".join(words)

        texts += [mutate(rng.choice(phrases) + " " + rng.choice(texts)) for _ in range(60)]
        texts += [mutate(rng.choice(phrases)) for _ in range(40)] + ["", "a", "?!"]
        texts = list(dict.fromkeys(texts))
        reference = {(p, t): phrase_similarity(p, t, rubric.language) for p in phrases for t in texts}
        for floor in (0.0, 81.0):
            matcher = PhraseMatcher()
            matcher.prepare([(phrases, texts)], rubric.language, floor)
            checked = 0
            for (p, t), want in reference.items():
                got = matcher.similarity(p, t, rubric.language, floor)
                if floor == 0.0 or want[0] >= floor + 0.1:  # above the floor: identical
                    assert got == want, (p, t, floor)
                    checked += 1
                else:  # below it: never reported above it
                    assert got[0] < floor + 0.1, (p, t, floor)
            assert checked == len(reference) if floor == 0.0 else checked > 50
        # and above(), what best_match uses, lists exactly the pairs at or above a threshold
        matcher = PhraseMatcher()
        hits = matcher.above(phrases, texts, rubric.language, 82.0)
        want = [(i, j, *reference[(p, t)]) for i, p in enumerate(phrases) for j, t in enumerate(texts)
                if reference[(p, t)][0] >= 82.0]
        assert hits == want and len(want) > 20


def _same_rows(a: Store, b: Store) -> None:
    assert a.query(ITEMS) == b.query(ITEMS)
    assert a.query(SCORES) == b.query(SCORES)


def test_fast_rescore_equals_the_per_call_path(varied, tmp_path):
    """Same outcomes, item results (evidence, similarity, reasons) and call scores, row for row."""
    old = _copy(varied, tmp_path / "old.duckdb")
    ids = select_calls(old)[:70] + ["no-such-call", "call-0000050"]  # unknown and failed calls too
    from qa.config import load_settings

    settings = load_settings()
    want = rescore_per_call(old, settings, None, ids)
    assert Counter(o.status for o in want) == {"ok": 70, "skipped": 2}
    for workers, batch in ((1, 25), (2, 16)):  # several batches; in this process and in a pool
        new = _copy(varied, tmp_path / f"new{workers}.duckdb")
        got = rescore(new, settings, None, ids, batch_size=batch, workers=workers)
        assert got == want
        _same_rows(old, new)
    # one given rubric: calls in the other language are skipped with the same reason
    en = load_rubric(settings.rubric_dir / "en_inbound.yaml")
    old2, new2 = _copy(varied, tmp_path / "old2.duckdb"), _copy(varied, tmp_path / "new2.duckdb")
    want = rescore_per_call(old2, settings, en, ids[:30])
    assert rescore(new2, settings, en, ids[:30], batch_size=7) == want
    assert {o.status for o in want} == {"ok", "skipped"}
    _same_rows(old2, new2)
    again = rescore(new2, settings, en, ids[:30])  # idempotent: replaces its own rows
    assert again == want
    _same_rows(old2, new2)


@pytest.mark.slow
def test_fast_scoring_equals_the_definition_on_2000_calls(tmp_path):
    """The scoring itself (the definition's one-pair-at-a-time matching) on a 2,000-call store."""
    from qa.config import load_settings
    from qa.rescore import RubricChoice, load_calls, score_stored
    from qa.rubric.engine import score_call
    from qa.rubric.matching import REFERENCE

    db = tmp_path / "s2000.duckdb"
    build_store(db, 2000)
    vary_texts(db)
    store, settings = Store(db), load_settings()
    ids = select_calls(store)
    choice = RubricChoice(settings, None)
    fast = {s.outcome.call_id: (s.items, s.score) for _, (row,) in score_stored(store, settings, [choice], ids)
            for s in row}
    for part in range(0, len(ids), 500):
        for cid, call in load_calls(store, ids[part:part + 500], settings.embedding_model).items():
            call.ctx.matcher = REFERENCE
            assert score_call(choice(cid, call.language), call.utterances, call.ctx) == fast[cid], cid


def _next_version(settings, tmp_path: Path) -> Path:
    """tr_inbound with decisions that flip both ways, an auto-fail that goes, an item removed and one added."""
    text = (settings.rubric_dir / "tr_inbound.yaml").read_text(encoding="utf-8")
    old = load_rubric(settings.rubric_dir / "tr_inbound.yaml")
    text = text.replace(f'version: "{old.version}"', 'version: "next"', 1)
    # empathy: only an apology counts now (pass -> fail where the agent only said "anlıyorum")
    text = text.replace('any: ["geçmiş olsun", "anlıyorum", "haklısınız", "çok üzgünüm", "üzgünüm", "kusura bakmayın", '
                        '"özür dilerim", "yaşadığınız sorun için", "can sıkıcı"]', 'any: ["özür dilerim", "çok üzgünüm"]', 1)
    # thank_goodbye: one more phrase (fail -> pass)
    text = text.replace('"teşekkür ederiz", "teşekkür ederim"]', '"teşekkür ederiz", "teşekkür ederim", "kusura bakmayın"]', 1)
    text = text.replace("critical: true", "critical: false", 1)  # overpromising no longer zeroes the call
    # closing_offer removed; a new "anlıyorum" item added in its section
    start = text.index("      - id: closing_offer")
    end = text.index("      - id: thank_goodbye")
    text = text[:start] + """      - id: acknowledge
        title: Anladığını söyleme
        check: {type: phrases, speaker: agent, any: ["anlıyorum"]}
""" + text[end:]
    path = tmp_path / "tr_next.yaml"
    path.write_text(text, encoding="utf-8")
    parse_rubric(text, str(path))
    return path


def test_compare_equals_two_separate_rescoring_runs(varied, tmp_path):
    from qa.config import load_settings
    from qa.reviews import ReviewStore
    from qa.rubric.compare import compare

    settings = load_settings()
    old = load_rubric(settings.rubric_dir / "tr_inbound.yaml")
    new = load_rubric(_next_version(settings, tmp_path))
    store = _copy(varied, tmp_path / "cmp.duckdb")
    ids = select_calls(store)
    # reviewers: override some automatic empathy / thank_goodbye decisions of the old version, confirm others
    scored = rescore(Store(_copy(varied, tmp_path / "peek.duckdb").path), settings, old, ids)
    tr_ids = [o.call_id for o in scored if o.status == "ok"]
    peek = Store(tmp_path / "peek.duckdb")
    auto = {(c, i): o for c, i, o in peek.query(
        "SELECT call_id, item_id, outcome FROM item_results WHERE rubric_version = ?", [old.version])}
    reviews = ReviewStore(store.path)
    flip = {"pass": "fail", "fail": "pass", "na": "pass"}
    for k, cid in enumerate(tr_ids[:24]):
        for item in ("empathy", "thank_goodbye", "closing_offer"):
            outcome = auto[(cid, item)] if k % 3 == 0 else flip[auto[(cid, item)]]
            reviews.save(cid, old.id, old.version, item, outcome, "reviewer a")

    res = compare(store, settings, old, new, ids)
    assert store.query("SELECT count(*) FROM call_scores WHERE rubric_version = 'next'") == [(0,)]  # nothing stored

    # the same numbers from two separate rescoring runs, stored under the two versions
    rescore(store, settings, old, ids)
    rescore(store, settings, new, ids)
    assert res.calls == len(tr_ids) and res.skipped == len(ids) - len(tr_ids)
    by_item = {i.item_id: i for i in res.items}
    flips: dict[str, Counter] = {}
    old_c: dict[str, Counter] = {}
    for _, item, a, b in store.query(
            "SELECT o.call_id, o.item_id, o.outcome, n.outcome FROM item_results o JOIN item_results n"
            " USING (call_id, item_id) WHERE o.rubric_version = ? AND n.rubric_version = 'next'", [old.version]):
        if a != b:
            flips.setdefault(item, Counter())[f"{a}->{b}"] += 1
    for item, outcome, n in store.query("SELECT item_id, outcome, count(*) FROM item_results WHERE rubric_version = ? AND call_id IN"
                                        " (SELECT call_id FROM call_scores WHERE rubric_version = 'next') GROUP BY ALL",
                                        [old.version]):
        old_c.setdefault(item, Counter())[outcome] = n
    for item, change in by_item.items():
        assert change.flips == dict(flips.get(item, {})), item
        if change.in_old:
            assert change.old == dict(old_c[item]), item
    assert by_item["empathy"].flips.get("pass->fail", 0) > 0
    assert by_item["thank_goodbye"].flips.get("fail->pass", 0) > 0
    assert not by_item["closing_offer"].in_new and not by_item["acknowledge"].in_old
    assert by_item["acknowledge"].new == dict(Counter(o for (o,) in store.query(
        "SELECT outcome FROM item_results WHERE rubric_version = 'next' AND item_id = 'acknowledge'")))
    # scores and bands per agent, auto-fails
    per_agent: dict[str, list] = {}
    for agent, a, b, band_a, band_b in store.query(
            "SELECT c.agent_id, o.score_pct, n.score_pct, o.band, n.band"
            " FROM call_scores o JOIN call_scores n USING (call_id) JOIN calls c USING (call_id)"
            " WHERE o.rubric_version = ? AND n.rubric_version = 'next' ORDER BY c.agent_id", [old.version]):
        row = per_agent.setdefault(agent, [0, [], [], 0])
        row[0] += 1
        row[1].append(a)
        row[2].append(b)
        row[3] += band_a != band_b
    assert [(a.agent_id, a.calls, a.old_mean, a.new_mean, sum(a.band_changes.values())) for a in res.agents] == [
        (agent, n, round(sum(a) / len(a), 1), round(sum(b) / len(b), 1), bands)
        for agent, (n, a, b, bands) in sorted(per_agent.items())]
    appear = [c for (c,) in store.query(
        "SELECT call_id FROM call_scores o JOIN call_scores n USING (call_id) WHERE o.rubric_version = ?"
        " AND n.rubric_version = 'next' AND n.auto_failed AND NOT o.auto_failed ORDER BY call_id", [old.version])]
    gone = [c for (c,) in store.query(
        "SELECT call_id FROM call_scores o JOIN call_scores n USING (call_id) WHERE o.rubric_version = ?"
        " AND n.rubric_version = 'next' AND o.auto_failed AND NOT n.auto_failed ORDER BY call_id", [old.version])]
    assert res.auto_fail_appear == appear and res.auto_fail_disappear == gone and len(gone) > 0
    # reviewers: overrides of the old version the new one now agrees with
    latest = reviews.latest_all()
    stored = {(c, i, v): o for c, i, v, o in store.query(
        "SELECT call_id, item_id, rubric_version, outcome FROM item_results")}
    expect: dict[str, list[int]] = {}
    for (cid, _, _), items in latest.items():
        for item, review in items.items():
            if (cid, item, "next") not in stored:
                continue
            row = expect.setdefault(item, [0, 0, 0, 0, 0])
            row[0] += 1
            before, after = stored[(cid, item, old.version)], stored[(cid, item, "next")]
            if before != review.outcome:
                row[1] += 1
                row[2] += after == review.outcome
            else:
                row[3] += 1
                row[4] += after != review.outcome
    assert {r.item_id: [r.reviewed, r.overrides, r.now_agree, r.confirmed, r.now_disagree] for r in res.reviews} == expect
    assert "closing_offer" not in expect and expect["empathy"][0] == 24

    # --save stores exactly what rescore --rubric NEW stores
    saved = _copy(varied, tmp_path / "saved.duckdb")
    compare(saved, settings, old, new, ids, save=True, batch_size=40)
    plain = _copy(varied, tmp_path / "plain.duckdb")
    rescore(plain, settings, new, ids)
    _same_rows(saved, plain)


def test_rescore_and_compare_from_the_command_line(varied, tmp_path):
    from qa.config import load_settings

    settings = load_settings()
    db = _copy(varied, tmp_path / "cli.duckdb").path
    new = _next_version(settings, tmp_path)
    out = tmp_path / "cmp.json"
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "rubric", "compare", "tr_inbound", str(new), "--db",
                          str(db), "--agent", "A001", "--agent", "A007", "--json", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr
    res = json.loads(out.read_text())
    tr = Store(db).query("SELECT count(*) FROM calls WHERE status = 'ok' AND language = 'tr' AND agent_id IN ('A001', 'A007')")
    assert res["calls"] == tr[0][0] > 0 and {a["agent_id"] for a in res["agents"]} <= {"A001", "A007"}
    assert "Items (calls per outcome" in run.stdout and "Auto-fails:" in run.stdout
    assert Store(db).query("SELECT count(*) FROM call_scores WHERE rubric_version = 'next'") == [(0,)]
    # rescore over a time range; a bad date is a usage error
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "rescore", "--db", str(db), "--since",
                          "2026-01-01T08:10+00:00", "--until", "2026-01-01T08:40+00:00"], capture_output=True, text=True,
                         timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr
    ok = Store(db).query("SELECT count(*) FROM calls WHERE status = 'ok' AND started_at >= TIMESTAMPTZ '2026-01-01 08:10:00+00'"
                         " AND started_at < TIMESTAMPTZ '2026-01-01 08:40:00+00'")[0][0]
    assert f"Re-scored {ok} call(s); 0 skipped, 0 failed." in run.stdout and ok > 10
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "rescore", "--db", str(db), "--since", "last week"],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 2 and "not an ISO 8601 date" in run.stderr


def test_the_rescore_benchmark_runs_on_a_small_store(tmp_path):
    from benchmarks import bench_rescore

    res = bench_rescore.bench_size(300, tmp_path, workers=(1,), old_sample=3)
    rows = {r["what"]: r for r in res["rows"]}
    floor = rows["floor: read the same rows once"]
    assert floor["x_floor"] == 1.0 and floor["seconds"] > 0
    scored = rows["rescore, 1 process(es)"]
    assert scored["calls"] == 294 and scored["x_floor"] > 1  # every 50th call failed; scoring does more than reading
    assert any(w.startswith("rubric compare") for w in rows) and any(w.startswith("old per-call") for w in rows)
    md = bench_rescore.to_markdown({"sizes": [res]})
    assert "Rescoring at 300 calls" in md and "wall / floor" in md and scored["cpu_s"] > 0


SEMANTIC_RUBRIC = """
id: sem_test
version: "1"
language: tr
title: semantic checks
sections:
  - id: s
    title: S
    items:
      - id: apology
        title: Apology by meaning
        check: {type: semantic, speaker: agent, any: ["yaşadığınız sorun için çok üzgünüm"], threshold: 0.85}
      - id: closing
        title: Closing, words or meaning
        check: {type: phrases, speaker: agent, window: {last_s: 90}, any: ["görüşmek üzere"], semantic: 0.85}
      - id: no_promise
        title: No promise by meaning
        critical: section
        check: {type: semantic, speaker: agent, none: ["size kesinlikle söz veriyorum"], threshold: 0.9}
"""


def test_semantic_checks_embed_each_piece_once_and_equal_the_per_call_path(tmp_path, monkeypatch):
    import qa.embeddings
    from qa.config import load_settings

    db = tmp_path / "sem.duckdb"
    build_store(db, 8, seed=5)
    vary_texts(db, seed=5)
    rubric = parse_rubric(SEMANTIC_RUBRIC, "sem.yaml")
    settings = load_settings()
    old = _copy(db, tmp_path / "old.duckdb")
    want = rescore_per_call(old, settings, rubric)
    real = qa.embeddings.get_embedder(settings.embedding_model)
    seen: Counter = Counter()

    class Counting:
        name = real.name

        def encode(self, texts):
            seen.update(texts)
            return real.encode(texts)

    monkeypatch.setattr(qa.embeddings, "get_embedder", lambda spec: Counting())
    new = _copy(db, tmp_path / "new.duckdb")
    assert rescore(new, settings, rubric, workers=1) == want
    _same_rows(old, new)
    assert seen and max(seen.values()) == 1  # every utterance piece and example embedded once
    methods = {m for (m,) in new.query("SELECT DISTINCT method FROM item_results WHERE rubric_id = 'sem_test'")}
    assert "semantic" in methods


def test_a_matcher_past_its_memory_bounds_starts_afresh_and_stays_exact():
    phrases = ["başka yardımcı olabileceğim bir konu var mı", "iyi günler", "anadolu telekom"]
    texts = [f"baska yardimci olabilecegim bir konu var mi {i}, iyi gunler" for i in range(12)] + ["Anadolu Telekom'a hoş geldiniz"]
    matcher = PhraseMatcher(max_vocabulary=8, max_texts=4)
    want = [(i, j, *phrase_similarity(p, t, "tr")) for i, p in enumerate(phrases) for j, t in enumerate(texts)
            if phrase_similarity(p, t, "tr")[0] >= 82.0]
    for k in range(0, len(texts), 3):  # several look-ups, each past the bounds
        got = matcher.above(phrases, texts[k:k + 3], "tr", 82.0)
        assert got == [(i, j - k, sim, span) for i, j, sim, span in want if k <= j < k + 3]
    assert len(matcher._folded) <= 4 + len(phrases) + 3


def test_compare_and_rescore_by_team_cover_the_team_agents_calls(varied, tmp_path):
    from qa.access.directory import Directory
    from qa.config import load_settings

    settings = load_settings()
    db = _copy(varied, tmp_path / "team.duckdb").path
    directory = Directory(db)
    directory.add("lead@example.com", "team_lead", teams=["fatura"])
    directory.add("a1@example.com", "agent", agent_id="A001", teams=["fatura"])
    directory.add("a7@example.com", "agent", agent_id="A007", teams=["fatura"])
    new = _next_version(settings, tmp_path)
    out = tmp_path / "team.json"
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "rubric", "compare", "tr_inbound", str(new), "--db",
                          str(db), "--team", "fatura", "--json", str(out)], capture_output=True, text=True, timeout=300,
                         cwd=REPO)
    assert run.returncode == 0, run.stderr
    res = json.loads(out.read_text())
    tr = Store(db).query("SELECT count(*) FROM calls WHERE status = 'ok' AND language = 'tr' AND agent_id IN ('A001', 'A007')")
    assert res["calls"] == tr[0][0] > 0 and {a["agent_id"] for a in res["agents"]} <= {"A001", "A007"}
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "rescore", "--db", str(db), "--team", "nobody"],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 2 and "team nobody has no agents" in run.stderr


def test_a_call_whose_scoring_fails_is_reported_and_the_rest_are_scored(varied, tmp_path, monkeypatch):
    """A pattern that runs past its time bound (or any scoring error) fails that call only: nothing is
    stored for it, its old scores stay, and the batch goes on (the pipeline's qa.quality.bounded_score)."""
    import qa.rescore as rescore_module
    from qa.config import load_settings
    from qa.rubric.regex_safety import RegexTimeout

    store = _copy(varied, tmp_path / "timeout.duckdb")
    ids = select_calls(store)[:6]
    victim = ids[2]
    real = rescore_module.score_call
    calls = {"n": 0}

    def counting(rubric, utterances, ctx):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RegexTimeout("pattern '(a|aa)+$' ran past 1 s")
        return real(rubric, utterances, ctx)

    monkeypatch.setattr(rescore_module, "score_call", counting)
    before = store.query("SELECT score_pct FROM call_scores WHERE call_id = ?", [victim])
    outcomes = rescore(store, load_settings(db=store.path), None, ids, workers=1)
    status = {o.call_id: (o.status, o.reason) for o in outcomes}
    assert status[victim][0] == "failed" and "ran past" in status[victim][1]
    assert sum(s == "ok" for s, _ in status.values()) == len(ids) - 1
    assert store.query("SELECT score_pct FROM call_scores WHERE call_id = ?", [victim]) == before
