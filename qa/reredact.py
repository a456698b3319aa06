"""Redact calls already in the store again with the current `qa.pii` (`callqa redact`).

Calls stored before a redaction fix keep what the old rules missed (in the sample store,
`tr_confused_04` held about 20 of its IBAN's 26 digits in `utterances` and `words`). This reads
each call's stored words per speaker (cues on the other side count, as in processing), finds
personal data with today's rules, and in one transaction per call: merges each new span's words
into one token word ("[IBAN]"), rebuilds the utterance texts from their words, replaces the old
text where item evidence and profile reasons quoted it, and adds the spans to `pii_redactions`
(so `callqa export` covers them). Audio is not needed; scores are left as they are. Re-running
finds nothing new (idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.asr import Word
from qa import text_index
from qa.pii import find_pii
from qa.store import Store, _rollback


@dataclass
class Reredacted:
    call_id: str
    spans: int  # new redactions
    kinds: dict[str, int]


def reredact_call(store: Store, call_id: str) -> Reredacted:
    rows = store.query(
        "SELECT w.idx, w.utterance_idx, w.start_s, w.end_s, w.text, w.probability, u.speaker FROM words w "
        "JOIN utterances u ON u.call_id = w.call_id AND u.idx = w.utterance_idx WHERE w.call_id = ? ORDER BY w.idx",
        [call_id])
    info = store.query("SELECT language, channels FROM calls WHERE call_id = ?", [call_id])
    language = info[0][0] if info and info[0][0] else "tr"
    # stereo: one stream per channel (= speaker), as in processing; mono: one stream, as in processing
    speakers = {s: (i if info and info[0][1] == 2 else None) for i, s in enumerate(sorted({r[6] for r in rows}))}
    words = [Word(float(r[2]), float(r[3]), r[4], float(r[5] if r[5] is not None else 1.0), speakers[r[6]]) for r in rows]
    order = sorted(range(len(words)), key=lambda i: (words[i].start, words[i].end))
    timed = [words[i] for i in order]
    spans = find_pii(timed, language)
    if not spans:
        return Reredacted(call_id, 0, {})
    # word (original index) -> the span it now belongs to; the span's first word becomes its token
    owner: dict[int, int] = {}
    for si, sp in enumerate(spans):
        for k in range(sp.first_word, sp.last_word + 1):
            if timed[k].channel == timed[sp.first_word].channel:
                owner.setdefault(order[k], si)
    first = {}
    for i in sorted(owner):
        first.setdefault(owner[i], i)
    new_words: list[tuple] = []
    for i, r in enumerate(rows):
        si = owner.get(i)
        if si is None:
            new_words.append((r[1], r[2], r[3], r[4], r[5]))
        elif first[si] == i:
            sp = spans[si]
            new_words.append((r[1], sp.start_s, sp.end_s, f"[{sp.kind.upper()}]", r[5]))
    texts: dict[int, list[str]] = {}
    for utt, _, _, text, _ in new_words:
        texts.setdefault(utt, []).append(text)
    old_texts = dict(store.query("SELECT idx, text FROM utterances WHERE call_id = ?", [call_id]))
    changed = {u: " ".join(t) for u, t in texts.items() if " ".join(t) != old_texts.get(u)}
    n_old = store.query("SELECT coalesce(max(idx) + 1, 0) FROM pii_redactions WHERE call_id = ?", [call_id])[0][0]
    with store.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM words WHERE call_id = ?", [call_id])
            con.executemany("INSERT INTO words VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [[call_id, k, *w] for k, w in enumerate(new_words)])
            for u, text in changed.items():
                old = old_texts.get(u)
                con.execute("UPDATE utterances SET text = ? WHERE call_id = ? AND idx = ?", [text, call_id, u])
                if old:
                    con.execute("UPDATE item_results SET evidence_text = ? WHERE call_id = ? AND evidence_text = ?",
                                [text, call_id, old])
                    con.execute("UPDATE call_profiles SET reasons_json = replace(reasons_json, ?, ?) WHERE call_id = ?",
                                [old, text, call_id])
            text_index.reindex_call(con, call_id)  # the index follows the redacted text
            con.executemany("INSERT INTO pii_redactions VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [[call_id, n_old + k, s.kind, s.start_s, s.end_s, s.masked, s.checksum_valid]
                             for k, s in enumerate(spans)])
            con.execute("COMMIT")
        except Exception:
            _rollback(con)
            raise
    kinds: dict[str, int] = {}
    for s in spans:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    return Reredacted(call_id, len(spans), kinds)


def reredact(store: Store, call_ids: list[str] | None = None) -> list[Reredacted]:
    """Every stored call (or `call_ids`) redacted again; one result per call."""
    store.init()  # an older store gains the search index first (its tokens follow the new text)
    ids = call_ids or [r[0] for r in store.query("SELECT call_id FROM calls WHERE status <> 'failed' ORDER BY call_id")]
    return [reredact_call(store, c) for c in ids]
