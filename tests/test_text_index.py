"""The full-text index (qa/text_index.py): Turkish folding, the index kept in step with the text
(save, redact again, delete, anonymise), the schema-3 upgrade of an older store, and search
through the scoped repository (prefix, several words, agent names, injection strings, roles)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import pytest

from benchmarks import bench_store
from qa import text_index
from qa.access.erase import anonymise_calls, delete_calls
from qa.access.model import LOCAL_ADMIN, Scope, Viewer
from qa.access.query import CallQuery
from qa.access.repository import DuckDBRepository
from qa.asr import Word
from qa.metadata import CallMetadata
from qa.reredact import reredact_call
from qa.store import SCHEMA_VERSION, Store
from qa.transcript import Utterance

FOLDING = [  # (typed, stored) pairs that must meet after folding
    ("sahin", "ŞAHİN"),
    ("ayse", "Ayşe"),
    ("igdir", "IĞDIR"),
    ("istanbul", "İstanbul"),
    ("isik", "ışık"),
    ("cicek", "Çiçek"),
    ("ozgur", "Özgür"),
    ("uzgunum", "üzgünüm"),
    ("SAHIN", "şahin"),
    ("Ilik", "ılık"),
    ("cafe", "café"),
]


@pytest.mark.parametrize("typed, stored", FOLDING)
def test_fold_meets(typed: str, stored: str) -> None:
    assert text_index.fold(typed) == text_index.fold(stored)


def test_python_and_sql_fold_agree() -> None:
    texts = [s for pair in FOLDING for s in pair] + ["Merhaba, ŞAHİN Bey! İyi günler; ığdır-çÇöÖüÜğĞ 42", "", "I İ ı i"]
    con = duckdb.connect()
    for text in texts:
        assert con.execute(f"SELECT {text_index.fold_sql('?')}", [text]).fetchone()[0] == text_index.fold(text), text


@pytest.mark.parametrize("text, expected", [
    ("Kartım [CARD] ŞAHİN'e ait", ["kartim", "sahin", "e", "ait"]),
    ("[IBAN] [PHONE]", []),
    ("merhaba merhaba MERHABA", ["merhaba"]),
    ("e-posta: a.b", ["e", "posta", "a", "b"]),
])
def test_tokens(text: str, expected: list[str]) -> None:
    assert text_index.tokens(text) == expected


@pytest.mark.parametrize("text, words", [
    ("ayse", ["ayse"]), ("  Ş  ", []), ("a bc", ["bc"]), ("x' OR 1=1; --", ["or"]), ("%_\\", []),
    ("bir iki üç dört beş altı yedi", ["bir", "iki", "uc", "dort", "bes", "alti"]),
])
def test_query_words(text: str, words: list[str]) -> None:
    assert text_index.query_words(text) == words


def _result(call_id: str, texts: list[str], agent_id: str = "A001", agent_name: str | None = None):
    """A CallResult (the store benchmark's) whose utterances say `texts`."""
    base = bench_store._call_result(call_id)
    utts = []
    for j, text in enumerate(texts):
        words = [Word(j * 5 + k * 0.4, j * 5 + k * 0.4 + 0.3, w, 0.9, j % 2) for k, w in enumerate(text.split())]
        utts.append(Utterance(j, f"ch{j % 2}", "agent" if j % 2 == 0 else "customer", j * 5.0, j * 5.0 + 4, text, 0.9,
                              words))
    meta = CallMetadata(call_id=call_id, agent_id=agent_id, agent_name=agent_name, direction="inbound", queue="billing")
    return dataclasses.replace(base, utterances=utts, metadata=meta, content_sha256=call_id.ljust(64, "0"))


def _tokens(db: Path, call_id: str) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t for (t,) in con.execute("SELECT token FROM search_tokens WHERE call_id = ?", [call_id]).fetchall()}
    finally:
        con.close()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    db = tmp_path / "calls.duckdb"
    s = Store(db)
    s.init()
    s.save_call(_result("c1", ["Merhaba, ben ŞAHİN", "Ayşe Hanım ile görüşmek istiyorum", "Kartım [CARD] kayboldu"],
                        agent_name="Gülşen Işık"))
    s.save_call(_result("c2", ["iyi günler", "siparişim gelmedi"], agent_id="A002", agent_name="Ömer Çelik"))
    return db


def test_save_indexes_redacted_text_only(store: Path) -> None:
    assert {"sahin", "ayse", "hanim", "kartim", "kayboldu"} <= _tokens(store, "c1")
    assert "card" not in _tokens(store, "c1")  # redaction tokens are not words anyone said


def test_reprocessing_replaces_the_tokens(store: Path) -> None:
    Store(store).save_call(_result("c1", ["tamamen yeni metin"]))
    assert _tokens(store, "c1") == {"tamamen", "yeni", "metin"}


@pytest.mark.parametrize("typed, call, utterance", [
    ("sahin", "c1", 0), ("ŞAHİN", "c1", 0), ("ayse", "c1", 1), ("AYSE hanim", "c1", 1), ("gorus", "c1", 1),
    ("siparis", "c2", 1), ("SİPARİŞİM", "c2", 1),
])
def test_search_finds_the_utterance(store: Path, typed: str, call: str, utterance: int) -> None:
    hits = DuckDBRepository(store).search(LOCAL_ADMIN, typed)
    assert [(h.call_id, h.utterance_idx) for h in hits] == [(call, utterance)]
    assert hits[0].start_s == utterance * 5.0 and hits[0].text  # which moment, and the (redacted) line


@pytest.mark.parametrize("typed", ["ayse sahin", "card", "[CARD]", "zzz", "' OR 1=1 --", "%", "a"])
def test_search_finds_nothing(store: Path, typed: str) -> None:
    # "ayse sahin": both words exist, but not in one utterance
    assert DuckDBRepository(store).search(LOCAL_ADMIN, typed) == []
    assert DuckDBRepository(store).find_calls(LOCAL_ADMIN, CallQuery(text=typed)).total == 0


@pytest.mark.parametrize("typed, expected", [("gulsen", ["c1"]), ("ISIK", ["c1"]), ("omer cel", ["c2"]), ("a00", ["c2", "c1"]),
                                             ("x'; DROP TABLE calls; --", [])])
def test_agent_name_search_is_folded(store: Path, typed: str, expected: list[str]) -> None:
    page = DuckDBRepository(store).find_calls(LOCAL_ADMIN, CallQuery(agent=typed))
    assert sorted(page.rows["call_id"]) == sorted(expected) and page.total == len(expected)


def test_search_is_scoped(store: Path) -> None:
    other = Viewer("a2", "agent", Scope(agent_ids=("A002",)))
    repo = DuckDBRepository(store)
    assert repo.search(other, "sahin") == []
    assert repo.find_calls(other, CallQuery(text="sahin")).total == 0
    assert [h.call_id for h in repo.search(other, "siparis")] == ["c2"]


def test_page_carries_hits(store: Path) -> None:
    page = DuckDBRepository(store).find_calls(LOCAL_ADMIN, CallQuery(text="ayse"))
    assert list(page.rows["call_id"]) == ["c1"] and [h.utterance_idx for h in page.hits["c1"]] == [1]


def test_delete_and_anonymise_drop_tokens(store: Path) -> None:
    delete_calls(store, LOCAL_ADMIN, ["c1"])
    assert _tokens(store, "c1") == set()
    anonymise_calls(store, LOCAL_ADMIN, ["c2"])
    assert _tokens(store, "c2") == set()
    assert DuckDBRepository(store).search(LOCAL_ADMIN, "siparis") == []


def test_redacting_again_removes_the_words_from_the_index(tmp_path: Path) -> None:
    db = tmp_path / "calls.duckdb"
    Store(db).init()
    Store(db).save_call(_result("c9", ["e-postam ayse.demir@example.com olarak kayıtlı"]))
    assert "example" in _tokens(db, "c9")
    assert reredact_call(Store(db), "c9").spans >= 1
    assert "example" not in _tokens(db, "c9") and "kayitli" in _tokens(db, "c9")


def test_an_older_store_is_indexed_on_upgrade_once(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    Store(db).init()
    Store(db).save_call(_result("c1", ["Merhaba ŞAHİN"]))
    con = duckdb.connect(str(db))  # make it look like a schema-2 store: no index, version 2
    con.execute("DROP TABLE search_tokens")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    assert DuckDBRepository(db).search(LOCAL_ADMIN, "sahin") == []  # readable before the upgrade, no hits
    Store(db).init()
    assert _tokens(db, "c1") == {"merhaba", "sahin"}
    Store(db).init()  # a re-run changes nothing
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM search_tokens").fetchone()[0] == 2
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    con.close()


@pytest.mark.parametrize("action", ["delete", "anonymise", "redact"])
def test_erasing_or_redacting_an_older_store_upgrades_it_first(tmp_path: Path, action: str) -> None:
    db = tmp_path / "old.duckdb"
    Store(db).init()
    Store(db).save_call(_result("c1", ["Merhaba ŞAHİN"]))
    Store(db).save_call(_result("c2", ["iyi günler Ayşe"], agent_id="A002"))
    con = duckdb.connect(str(db))
    con.execute("DROP TABLE search_tokens")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    if action == "delete":
        delete_calls(db, LOCAL_ADMIN, ["c1"])
    elif action == "anonymise":
        anonymise_calls(db, LOCAL_ADMIN, ["c1"])
    else:
        from qa.reredact import reredact
        reredact(Store(db), ["c1"])
    assert _tokens(db, "c2") == {"iyi", "gunler", "ayse"}
    assert _tokens(db, "c1") == (set() if action != "redact" else {"merhaba", "sahin"})
