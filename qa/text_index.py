"""Full-text search over what was said: a small token index in the store, Turkish-aware.

DuckDB's FTS extension cannot be installed offline, so the store keeps its own index:
`search_tokens` (token, call_id, utterance idx, start time), one row per distinct folded token
of an utterance. Folding makes "sahin" find "ŞAHİN" and "ayse" find "Ayşe": lower case, then
İ/I/ı/i -> i, ş -> s, ç -> c, ğ -> g, ö -> o, ü -> u (and any other accent dropped).

Only the stored, *redacted* utterance text is indexed (redaction runs before anything is
stored; tokens such as `[CARD]` are left out), so the index never holds raw personal data.
It is kept in step in the same transaction as the text: `Store.save_call` (a call saved or
reprocessed), `qa.reredact` (`callqa redact`), `qa.access.erase` (delete, anonymise); a store
made before schema 3 is indexed once when it is opened for writing (`Store.init`).

A query word matches every token it starts (prefix search: "sah" finds "şahin"); the words of
a query must all occur in one utterance. `fold` (Python) and `FOLD_SQL` (DuckDB) are the same
rule; tests hold them to it.
"""

from __future__ import annotations

import re
import unicodedata

# Redaction tokens ([CARD], [IBAN], ...) carry no words a person said.
_REDACTION = re.compile(r"\[[A-Z_]+\]")
_TOKEN = re.compile(r"[a-z0-9]+")
MAX_QUERY_WORDS = 6
MIN_PREFIX = 2  # a one-letter prefix matches most of the index: wait for the second letter


def fold(text: str | None) -> str:
    """Lower case without accents; Turkish dotted/dotless i become i."""
    if not text:
        return ""
    lowered = text.replace("İ", "i").replace("I", "i").replace("ı", "i").lower()
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("ı", "i")


def tokens(text: str | None) -> list[str]:
    """The distinct folded tokens of a text, in order, redaction tokens left out."""
    seen: dict[str, None] = {}
    for tok in _TOKEN.findall(fold(_REDACTION.sub(" ", text or ""))):
        seen.setdefault(tok, None)
    return list(seen)


def query_words(text: str | None) -> list[str]:
    """The words of a search box entry, folded (at most MAX_QUERY_WORDS, each at least MIN_PREFIX letters)."""
    return [w for w in tokens(text) if len(w) >= MIN_PREFIX][:MAX_QUERY_WORDS]


def fold_sql(expr: str) -> str:
    """The same folding as `fold`, as a DuckDB expression over `expr`."""
    return f"replace(strip_accents(lower(replace(replace({expr}, 'İ', 'i'), 'I', 'i'))), 'ı', 'i')"


INDEX_DDL = [
    """CREATE TABLE IF NOT EXISTS search_tokens (
        token VARCHAR NOT NULL, call_id VARCHAR NOT NULL, utterance_idx INTEGER NOT NULL, start_s DOUBLE)""",
]


def _select_sql(where: str) -> str:
    folded = fold_sql(r"regexp_replace(u.text, '\[[A-Z_]+\]', ' ', 'g')")
    return f"""SELECT DISTINCT t.token, t.call_id, t.idx AS utterance_idx, t.start_s FROM (
            SELECT unnest(regexp_extract_all({folded}, '[a-z0-9]+')) AS token, u.call_id, u.idx, u.start_s
            FROM utterances u WHERE {where}) t
        WHERE t.token <> ''"""


def index_sql(where: str) -> str:
    """INSERT the tokens of the utterances selected by `where` (over `u`, bound parameters allowed)."""
    return "INSERT INTO search_tokens " + _select_sql(where)


def reindex_call(con, call_id: str) -> None:
    """Replace one call's tokens (inside the caller's transaction)."""
    con.execute("DELETE FROM search_tokens WHERE call_id = ?", [call_id])
    con.execute(index_sql("u.call_id = ?"), [call_id])


def rebuild(con) -> int:
    """Index every stored utterance again (the schema-3 upgrade, the benchmark store); returns rows.

    Rows are written sorted by token so that DuckDB's per-row-group min/max skip most of the
    table for a prefix range; calls saved later are appended and stay correct, only less packed.
    """
    con.execute("DELETE FROM search_tokens")
    con.execute(f"""INSERT INTO search_tokens SELECT * FROM ({_select_sql('TRUE')})
                    ORDER BY token, call_id, utterance_idx""")
    return int(con.execute("SELECT count(*) FROM search_tokens").fetchone()[0])


def prefix_bounds(word: str) -> tuple[str, str]:
    """[low, high) of the tokens that start with `word` (a range the min/max row-group stats can skip on)."""
    return word, word + "\U0010ffff"
