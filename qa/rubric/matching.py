"""Phrase matching that survives ASR errors and Turkish morphology.

Phrase and utterance are normalised (Turkish I/İ, NFC) and folded (diacritics dropped).
The phrase is slid over the utterance's tokens; each phrase token is compared with the
aligned token and with that token's prefix (so "teşekkür" matches "teşekkürler", a
suffix), using rapidfuzz ratios weighted by token length.

`phrase_similarity` is the definition, one pair at a time in Python. `PhraseMatcher`
computes exactly the same numbers for many (phrase, text) pairs at once: each text is
folded once, token similarities come from one rapidfuzz `cdist` per new vocabulary, the
window sums are numpy arrays (added in the same order, so the floats are identical), and
the whole-window `partial_ratio` runs only where a longest-common-subsequence bound says
it could reach the caller's threshold. `best_match` uses it; tests compare it with the
definition on every rubric phrase.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Iterable

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import LCSseq

from qa.text import fold


@dataclass(frozen=True)
class PhraseMatch:
    phrase: str
    similarity: float  # 0-100
    utterance_idx: int
    span: tuple[int, int]  # token span in the utterance


def _token_sim(p: str, u: str) -> float:
    best = fuzz.ratio(p, u)
    if len(u) > len(p) >= 3:
        best = max(best, fuzz.ratio(p, u[: len(p)]) - 2)  # suffix allowed, tiny penalty
    return best


def phrase_similarity(phrase: str, text: str, language: str) -> tuple[float, tuple[int, int]]:
    """Best similarity (0-100) of `phrase` anywhere in `text`, with the token span."""
    p_tokens = fold(phrase, language).split()
    u_tokens = fold(text, language).split()
    if not p_tokens or not u_tokens:
        return 0.0, (0, 0)
    n = len(p_tokens)
    p_joined = " ".join(p_tokens)
    weights = [len(t) for t in p_tokens]
    total = sum(weights)
    best, span = 0.0, (0, 0)
    for i in range(max(1, len(u_tokens) - n + 1)):
        window = u_tokens[i : i + n]
        if len(window) < n:
            window = window + [""] * (n - len(window))
        score = sum(w * _token_sim(p, u) for p, u, w in zip(p_tokens, window, weights)) / total
        if n > 1 and i + n < len(u_tokens):  # one extra word inside ("i'm so sorry" ~ "i'm sorry")
            longer = u_tokens[i : i + n + 1]
            for skip in range(1, n):
                window2 = longer[:skip] + longer[skip + 1 :]
                s2 = sum(w * _token_sim(p, u) for p, u, w in zip(p_tokens, window2, weights)) / total - 4
                score = max(score, s2)
        joined = " ".join(u_tokens[i : i + n + 1])
        # ASR may split or join words: also compare the joined strings, but only when the
        # utterance is about as long as the phrase (partial_ratio would otherwise score a
        # short "sure" 100 against "are you sure")
        if n > 1 and len(joined) >= 0.85 * len(p_joined):
            score = max(score, fuzz.partial_ratio(p_joined, joined) - 3)
        if score > best:
            best, span = score, (i, min(i + n, len(u_tokens)))
    return round(best, 1), span


# Turkish negates inside the verb ("veriyorum" / "veremiyorum", "yapacağım" / "yapmayacağım");
# folded forms, so ı -> i. English negates with a separate word before the verb.
_TR_NEGATION = re.compile(r"(m[ei]yor|m[ei]yo$|m[ae]y[ae]c|m[ae]z$|m[ae]zs|m[ae]d[iu]|m[ae]m$|m[ae]m[iu]z$|m[ae]n$)")
_EN_NEGATORS = {"not", "never", "cannot", "can't", "t", "no", "won't", "don't"}


def negated(phrase: str, text: str, span: tuple[int, int], language: str) -> bool:
    """True when the matched words are a negated form of the phrase ("söz veremem" vs "söz veriyorum")."""
    p_tokens = fold(phrase, language).split()
    u_tokens = fold(text, language).split()
    matched = u_tokens[span[0] : span[1]]
    around = u_tokens[max(0, span[0] - 2) : span[0]] + u_tokens[span[1] : span[1] + 1]
    if any(t in _EN_NEGATORS for t in matched + around) and not any(t in _EN_NEGATORS for t in p_tokens):
        return True
    if "degil" in around and "degil" not in p_tokens:
        return True
    neg_u = any(_TR_NEGATION.search(t) for t in matched)
    neg_p = any(_TR_NEGATION.search(t) for t in p_tokens)
    return neg_u and not neg_p


def best_match(
    phrases: list[str], utterances, language: str, threshold: float, reject_negated: bool = False,
    matcher: "PhraseMatcher | None" = None,
) -> PhraseMatch | None:
    """The strongest match at or above `threshold` of any phrase in any utterance.

    `reject_negated` skips matches that negate the phrase; used for forbidden phrases,
    where "I can't promise" must not count as "I promise". `matcher` (default: this
    thread's) computes the similarities; `REFERENCE` is the one-pair-at-a-time definition.
    """
    matcher = matcher or default_matcher()
    best: PhraseMatch | None = None
    for i, j, sim, span in matcher.above(phrases, [u.text for u in utterances], language, threshold):
        u = utterances[j]
        if reject_negated and negated(phrases[i], u.text, span, language):
            continue
        if best is None or sim > best.similarity:
            best = PhraseMatch(phrases[i], sim, u.idx, span)
    return best


# ---- many pairs at once ----------------------------------------------------------------------

_PAD = 0  # token id of the empty token that pads short windows: similarity 0, length 0


def _token_sims(ps: list[str], us: list[str]) -> np.ndarray:
    """`_token_sim(p, u)` for every p in `ps` and u in `us`, as a float64 matrix (same values)."""
    out = process.cdist(ps, us, scorer=fuzz.ratio, dtype=np.float64)
    u_len = np.array([len(u) for u in us], dtype=np.int64)
    for length in sorted({len(p) for p in ps if len(p) >= 3}):
        rows = [i for i, p in enumerate(ps) if len(p) == length]
        cols = np.flatnonzero(u_len > length)
        if not len(cols):
            continue
        pre = process.cdist([ps[i] for i in rows], [us[j][:length] for j in cols], scorer=fuzz.ratio,
                            dtype=np.float64) - 2
        block = out[np.ix_(rows, cols)]
        out[np.ix_(rows, cols)] = np.maximum(block, pre)
    return out


class PhraseMatcher:
    """`phrase_similarity` for many (phrase, text) pairs, with every text folded once.

    Work is asked for in blocks (phrases x texts) with a floor: a similarity at or above the
    floor is exactly `phrase_similarity`'s; pairs that provably stay below it are only
    marked as done. Results are kept per text (the hits, and which phrases were done at
    which floor), so looking up a block costs set operations, not a loop over pairs.
    Memory is bounded by `max_vocabulary` and `max_texts` (everything is dropped past them).
    """

    def __init__(self, max_vocabulary: int = 200_000, max_texts: int = 500_000) -> None:
        self.max_vocabulary, self.max_texts = max_vocabulary, max_texts
        self.clear()

    def clear(self) -> None:
        self._folded: dict[tuple[str, str], tuple[str, ...]] = {}
        self._vocab: dict[str, int] = {"": _PAD}
        self._vocab_list: list[str] = [""]
        self._vocab_len = np.zeros(1, dtype=np.int64)
        self._rows: dict[str, int] = {}
        self._row_list: list[str] = []
        self._table = np.zeros((0, 1), dtype=np.float64)  # phrase token x vocabulary token
        self._ids: dict[tuple[str, ...], np.ndarray] = {}
        self._joined_texts: dict[tuple[str, ...], str] = {}
        # (text, language) -> phrase -> (similarity, span); (text, language, floor) -> phrases done
        self._hits: dict[tuple[str, str], dict[str, tuple[float, tuple[int, int]]]] = {}
        self._done: dict[tuple[str, str, float], set[str]] = {}

    # -- folding and token tables ------------------------------------------------------------
    def tokens(self, text: str, language: str) -> tuple[str, ...]:
        key = (text, language)
        toks = self._folded.get(key)
        if toks is None:
            toks = tuple(fold(text, language).split())
            self._folded[key] = toks
        return toks

    def _grow(self, phrase_tokens: set[str], text_tokens: set[str]) -> None:
        new_cols = [t for t in text_tokens if t not in self._vocab]
        new_rows = [t for t in phrase_tokens if t not in self._rows]
        if len(self._vocab) + len(new_cols) > self.max_vocabulary:  # bounded memory: start afresh
            self.clear()
            new_cols = [t for t in text_tokens if t not in self._vocab]
            new_rows = [t for t in phrase_tokens if t not in self._rows]
        if new_cols:
            block = _token_sims(self._row_list, new_cols) if self._row_list else np.zeros((0, len(new_cols)))
            self._table = np.hstack([self._table, block])
            for t in new_cols:
                self._vocab[t] = len(self._vocab_list)
                self._vocab_list.append(t)
            self._vocab_len = np.concatenate([self._vocab_len, [len(t) for t in new_cols]]).astype(np.int64)
        if new_rows:
            block = _token_sims(new_rows, self._vocab_list)
            block[:, _PAD] = 0.0
            self._table = np.vstack([self._table, block])
            for t in new_rows:
                self._rows[t] = len(self._row_list)
                self._row_list.append(t)

    def _joined(self, toks: tuple[str, ...]) -> str:
        joined = self._joined_texts.get(toks)
        if joined is None:
            joined = self._joined_texts[toks] = " ".join(toks)
        return joined

    def _token_ids(self, toks: tuple[str, ...]) -> np.ndarray:
        ids = self._ids.get(toks)
        if ids is None:
            ids = np.fromiter((self._vocab[t] for t in toks), dtype=np.int64, count=len(toks))
            self._ids[toks] = ids
        return ids

    # -- lookups ------------------------------------------------------------------------------
    def similarity(self, phrase: str, text: str, language: str, floor: float = 0.0) -> tuple[float, tuple[int, int]]:
        """`phrase_similarity(phrase, text, language)` when it is at least `floor`; else (0.0, (0, 0))."""
        done = self._done.get((text, language, floor))
        if done is None or phrase not in done:
            self.prepare([([phrase], [text])], language, floor)
        return self._hits.get((text, language), {}).get(phrase, (0.0, (0, 0)))

    def above(self, phrases: list[str], texts: list[str], language: str,
              threshold: float) -> list[tuple[int, int, float, tuple[int, int]]]:
        """(phrase index, text index, similarity, span) of every pair whose similarity is >= `threshold`,
        in (phrase, text) order."""
        floor = threshold - 1.0  # whatever rounds to >= threshold is computed exactly
        wanted = set(phrases)
        for text in texts:
            done = self._done.get((text, language, floor))
            if done is None or not done.issuperset(wanted):
                self.prepare([(phrases, texts)], language, floor)
                break
        where: dict[str, list[int]] = {}
        for i, p in enumerate(phrases):
            where.setdefault(p, []).append(i)
        out = []
        for j, text in enumerate(texts):
            hits = self._hits.get((text, language))
            if not hits:
                continue
            for phrase, (sim, span) in hits.items():
                if sim >= threshold and phrase in where:
                    out.extend((i, j, sim, span) for i in where[phrase])
        out.sort(key=lambda h: (h[0], h[1]))
        return out

    # -- computing ----------------------------------------------------------------------------
    def prepare(self, blocks: Iterable[tuple[list[str], list[str]]], language: str, floor: float = 0.0) -> None:
        """Compute every (phrase, text) pair of the blocks (phrases x texts) at `floor`."""
        p_index: dict[str, int] = {}
        t_index: dict[str, int] = {}
        parts_p, parts_t = [], []
        blocks = [(list(ps), list(ts)) for ps, ts in blocks if ps and ts]
        for ps, ts in blocks:
            pi = np.array([p_index.setdefault(p, len(p_index)) for p in ps], dtype=np.int64)
            ti = np.array([t_index.setdefault(t, len(t_index)) for t in ts], dtype=np.int64)
            parts_p.append(np.repeat(pi, len(ti)))
            parts_t.append(np.tile(ti, len(pi)))
        if not parts_p:
            return
        if len(self._folded) + len(t_index) > self.max_texts:  # bounded memory in long-lived processes
            self.clear()
        phrases, texts = list(p_index), list(t_index)
        pp, pt = np.concatenate(parts_p), np.concatenate(parts_t)  # a pair asked twice is computed twice, alike
        p_toks = [self.tokens(p, language) for p in phrases]
        t_toks = [self.tokens(t, language) for t in texts]
        self._grow({t for toks in p_toks for t in toks}, {t for toks in t_toks for t in toks})
        p_n = np.array([len(t) for t in p_toks], dtype=np.int64)
        t_m = np.array([len(t) for t in t_toks], dtype=np.int64)
        live = (p_n[pp] > 0) & (t_m[pt] > 0)  # an empty phrase or text scores 0 everywhere
        for n in np.unique(p_n[pp[live]]).tolist():
            sel = np.flatnonzero(live & (p_n[pp] == n))
            self._group(int(n), pp[sel], pt[sel], phrases, texts, p_toks, t_toks, language, floor)
        if floor <= 0.0:  # below any floor a pair scores 0.0, as phrase_similarity says for empty ones
            for k in np.flatnonzero(~live).tolist():
                self._hits.setdefault((texts[pt[k]], language), {})[phrases[pp[k]]] = (0.0, (0, 0))
        for ps, ts in blocks:
            for t in ts:
                self._done.setdefault((t, language, floor), set()).update(ps)

    def _group(self, n: int, pp: np.ndarray, pt: np.ndarray, phrases: list[str], texts: list[str],
               p_toks: list[tuple[str, ...]], t_toks: list[tuple[str, ...]], language: str, floor: float) -> None:
        """Pairs whose phrase has `n` tokens: skip what provably stays below `floor`, scan the rest."""
        # the texts of these pairs as one array of token ids, each followed by n + 1 pads
        used_t = np.unique(pt)
        local = np.full(len(texts), -1, dtype=np.int64)
        local[used_t] = np.arange(len(used_t))
        chunks = []
        pad = np.full(n + 1, _PAD, dtype=np.int64)
        for t in used_t.tolist():
            chunks.append(self._token_ids(t_toks[t]))
            chunks.append(pad)
        flat = np.concatenate(chunks)
        m_local = np.array([len(t_toks[t]) for t in used_t.tolist()], dtype=np.int64)
        start_local = np.concatenate([[0], np.cumsum(m_local + n + 1)[:-1]])
        rows_p = np.zeros((len(phrases), n), dtype=np.int64)
        weights_p = np.zeros((len(phrases), n), dtype=np.float64)
        for p in np.unique(pp).tolist():
            rows_p[p] = [self._rows[t] for t in p_toks[p]]
            weights_p[p] = [len(t) for t in p_toks[p]]
        total_p = weights_p.sum(axis=1)  # integer sums: exact
        p_joined = [" ".join(t) for t in p_toks]
        p_len = np.array([len(j) for j in p_joined], dtype=np.int64)
        cut = floor + 3.0 - 1e-6  # where partial_ratio - 3 could reach the floor

        # which pairs need the token scan (tok) and which the whole-window partial_ratio (part)
        tok = np.ones(len(pp), dtype=bool)
        part = np.full(len(pp), n > 1)
        if floor > 0:
            # every window's token score is at most each phrase token at its best anywhere in the text
            # (float sums and products are monotonic, so the bound holds for the computed values too)
            rows_used = np.unique(rows_p[pp])
            best_tok = np.maximum.reduceat(self._table[np.ix_(rows_used, flat)], start_local, axis=1)
            row_local = np.full(self._table.shape[0], -1, dtype=np.int64)
            row_local[rows_used] = np.arange(len(rows_used))
            acc = weights_p[pp, 0] * best_tok[row_local[rows_p[pp, 0]], local[pt]]
            for k in range(1, n):
                acc = acc + weights_p[pp, k] * best_tok[row_local[rows_p[pp, k]], local[pt]]
            tok = acc / total_p[pp] >= floor
            if n > 1:
                # partial_ratio compares the shorter string (length s) with pieces of the other: at most
                # 200 L / (s + L), L = the longest common subsequence of phrase and text (s >= 0.85 phrase)
                t_joined = [self._joined(t_toks[t]) if local[t] >= 0 else "" for t in range(len(texts))]
                lcs = process.cpdist([p_joined[p] for p in pp.tolist()], [t_joined[t] for t in pt.tolist()],
                                     scorer=LCSseq.similarity, dtype=np.int64).astype(np.float64)
                short = 0.85 * p_len[pp]
                part = 200.0 * lcs / np.maximum(short + lcs, 1e-9) >= cut
            keep = np.flatnonzero(tok | part)
            pp, pt, tok, part = pp[keep], pt[keep], tok[keep], part[keep]
            if not len(pp):
                return

        m = m_local[local[pt]]
        counts = np.maximum(1, m - n + 1)
        seg = np.concatenate([[0], np.cumsum(counts)[:-1]])
        wp = np.repeat(np.arange(len(pp)), counts)  # window -> pair
        wi = np.arange(int(counts.sum())) - np.repeat(seg, counts)  # window start token
        base = start_local[local[pt]][wp] + wi
        wm = m[wp]
        score = np.full(len(wp), -np.inf)

        ws = np.flatnonzero(tok[wp])
        if len(ws):
            # token scores: sum(w * sim) over the window, added left to right as Python's sum does
            b_, p_ = base[ws], pp[wp[ws]]
            w_tot = total_p[p_]
            rows, weights = rows_p[p_], weights_p[p_]
            a_terms = [weights[:, k] * self._table[rows[:, k], flat[b_ + k]] for k in range(n)]
            acc = a_terms[0].copy()
            for k in range(1, n):
                acc = acc + a_terms[k]
            sc = acc / w_tot
            if n > 1:
                # one extra word inside: token k of the phrase against token k or k + 1 of the window
                b_terms = [weights[:, k] * self._table[rows[:, k], flat[b_ + k + 1]] for k in range(n)]
                skip_ok = wi[ws] + n < wm[ws]
                prefix = a_terms[0].copy()
                for skip in range(1, n):
                    acc = prefix.copy()
                    for k in range(skip, n):
                        acc = acc + b_terms[k]
                    sc = np.where(skip_ok, np.maximum(sc, acc / w_tot - 4), sc)
                    prefix = prefix + a_terms[skip]
            score[ws] = sc

        if n > 1:
            # whole-window partial_ratio where the joined window is about as long as the phrase
            ws = np.flatnonzero(part[wp])
            flat_len = self._vocab_len[flat]
            j_len = flat_len[base[ws]]
            for k in range(1, n + 1):
                j_len = j_len + flat_len[base[ws] + k]
            j_len = j_len + np.minimum(n + 1, wm[ws] - wi[ws]) - 1
            w_plen = p_len[pp[wp[ws]]]
            ok = j_len >= 0.85 * w_plen
            ws, j_len, w_plen = ws[ok], j_len[ok], w_plen[ok]
            if len(ws):
                # each distinct window string once
                stride = int(m_local.max()) + 1
                uniq, inv = np.unique(local[pt[wp[ws]]] * stride + wi[ws], return_inverse=True)
                strings = [" ".join(t_toks[t][i:i + n + 1])
                           for t, i in zip(used_t[uniq // stride].tolist(), (uniq % stride).tolist())]
                left = [p_joined[p] for p in pp[wp[ws]].tolist()]
                right = [strings[k] for k in inv.tolist()]
                if cut > 0:  # the same bound, window by window
                    lcs = process.cpdist(left, right, scorer=LCSseq.similarity, dtype=np.int64).astype(np.float64)
                    short = np.minimum(w_plen, j_len).astype(np.float64)
                    keep = np.flatnonzero(200.0 * lcs / np.maximum(short + lcs, 1e-9) >= cut)
                    ws = ws[keep]
                    left = [left[i] for i in keep.tolist()]
                    right = [right[i] for i in keep.tolist()]
                if len(ws):
                    partial = process.cpdist(left, right, scorer=fuzz.partial_ratio, dtype=np.float64)
                    score[ws] = np.maximum(score[ws], partial - 3)

        # per pair: the first best window (phrase_similarity keeps a window only when it is strictly better)
        best = np.maximum.reduceat(score, seg)
        found = np.flatnonzero((best >= floor) & (best > 0.0))
        if floor <= 0.0:
            for k in np.flatnonzero(best <= 0.0).tolist():
                self._hits.setdefault((texts[pt[k]], language), {})[phrases[pp[k]]] = (0.0, (0, 0))
        if not len(found):
            return
        first = np.flatnonzero(score == best[wp])
        _, at = np.unique(wp[first], return_index=True)
        first_i = wi[first[at]]
        for k in found.tolist():
            i, b = int(first_i[k]), float(best[k])
            self._hits.setdefault((texts[pt[k]], language), {})[phrases[pp[k]]] = (
                round(b, 1), (i, min(i + n, int(m[k]))))


class ReferenceMatcher:
    """The definition, one pair at a time (`phrase_similarity`): what `PhraseMatcher` must equal."""

    def prepare(self, pairs, language: str, floor: float = 0.0) -> None:
        return None

    def similarity(self, phrase: str, text: str, language: str, floor: float = 0.0) -> tuple[float, tuple[int, int]]:
        return phrase_similarity(phrase, text, language)

    def above(self, phrases: list[str], texts: list[str], language: str,
              threshold: float) -> list[tuple[int, int, float, tuple[int, int]]]:
        out = []
        for i, phrase in enumerate(phrases):
            for j, text in enumerate(texts):
                sim, span = phrase_similarity(phrase, text, language)
                if sim >= threshold:
                    out.append((i, j, sim, span))
        return out


REFERENCE = ReferenceMatcher()
_LOCAL = threading.local()


def default_matcher() -> PhraseMatcher:
    """This thread's matcher (its caches are bounded by `max_vocabulary`)."""
    matcher = getattr(_LOCAL, "matcher", None)
    if matcher is None:
        matcher = _LOCAL.matcher = PhraseMatcher(max_vocabulary=50_000, max_texts=20_000)
    return matcher
