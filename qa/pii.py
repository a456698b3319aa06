"""Detect and redact personal data (cards, TC kimlik, IBANs, phones, e-mails) in ASR words.

Approach. Words are split into sub-tokens (digit runs, letter runs folded with
`qa.text.fold`, punctuation) that remember their word, one channel at a time: stereo words
may interleave the two sides by time, and a span never mixes channels.

Numbers. Number words (Turkish for tr/az, else English; ASCII forms like "dort", "altmis"
and glued ones like "onbeş" too) and digit tokens become *groups*: below 1000 a group is
[digit] yüz/hundred [tens] [unit], and a word that cannot continue it starts a new one
("otuz dört elli altı" -> 34|56, "dört bir bir" -> 4|1|1); "sıfır"/"zero"/"oh" stands
alone, "double/triple X" repeats a digit. Consecutive groups form a *stream*: commas, full
stops, "ve"/"and", "tire"/"dash" and hesitations may sit between groups, any other word
(or a colon, 14:30) ends it. Groups with bin/milyon/thousand ("on iki bin", "12 bin") are
amounts and never join an identifier. Every sub-run of whole groups is tested, strongest
first: TR IBAN (24 digits, optionally after "TR"/"te re"; `stdnum.iban`), card (13-19
digits, IIN 2-6, `stdnum.luhn`), TC kimlik (`stdnum.tr.tckimlik`), phone (Turkish 5xx or
a real 2xx/3xx/4xx area code after an optional 0/90/+90/0090; +CC and 00CC; for non-
Turkish calls North-American 10/11 digits and UK 07). Written IBANs of any country
("DE89 3704 ...") are validated word by word.

E-mails. An "@"/"at"/"et"/"kuyruklu a" marker, a local part chained backwards over
"nokta"/"dot"/"alt çizgi"/"tire" (or ".", "_", "-" inside a written word), and a domain
ending in a known TLD (so com.tr, co.uk) or starting with a known provider (gmail, ...).

Invalid checksums (privacy decision). Leaks cost more than over-redaction, and ASR often
gets one digit of a long number wrong. So every stream piece of >= 12 digits left after the
valid matches is redacted anyway, `checksum_valid=False`: "iban" after a TR prefix, "card"
for 13-19 digits starting 2-6, else the extra kind "number" ("[NUMBER]"). A valid match
that is only part of a longer run (>= 5 more digits touch it, or the run is card-sized or
TR-prefixed) is folded into the whole run, since sub-runs of long digit strings pass Luhn
one time in ten by chance. Runs up to 11 digits that pass no check survive (order numbers,
amounts, dates), except 11 digits right after "kimlik"/"TC"/"TCKN"/"vatandaşlık" (an
invalid tckn). A last group before a currency word ("250, 300 ve 600 lira") is not
counted. Accepted false positives: any 10-digit 5xx run is a phone, "yedi" (ate) and
"altı" (under) are digits, "look at google dot com" is an e-mail.

`masked` never holds the full value: card "**** **** **** 1234", TCKN/number last 4, IBAN
country + last 4, phone last 2, e-mail "a***@gmail.com".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from stdnum import iban as _iban
from stdnum import luhn as _luhn
from stdnum.tr import tckimlik as _tckimlik

from qa.asr import Word
from qa.text import fold, lower

KINDS = ("card", "tckn", "iban", "phone", "email", "number", "cvv", "expiry", "dob")
TOKEN = {k: f"[{k.upper()}]" for k in KINDS}
MIN_UNCHECKED_DIGITS = 12  # redact digit runs at least this long even when no checksum passes
CUE_MIN_DIGITS = 6  # a digit-like run of at least this many digits after an identifier cue is redacted
WEAK_MIN_DIGITS = 11  # ... and, with no cue at all, of this many (a TC kimlik's length)
OUTSIDE_CUE_S = 20.0  # a cue on the other channel counts for this long


@dataclass(frozen=True)
class PiiSpan:
    kind: str  # card | tckn | iban | phone | email | number
    first_word: int  # index into the words list (inclusive)
    last_word: int  # inclusive
    start_s: float
    end_s: float
    checksum_valid: bool  # card/tckn/iban: checksum passed; phone/email: plausible; number: False
    masked: str  # never the full value


_TR_NUM = {
    "sıfır": 0, "sifir": 0, "bir": 1, "iki": 2, "üç": 3, "uc": 3, "dört": 4, "dort": 4,
    "beş": 5, "bes": 5, "altı": 6, "alti": 6, "yedi": 7, "sekiz": 8, "dokuz": 9, "on": 10,
    "yirmi": 20, "otuz": 30, "kırk": 40, "kirk": 40, "elli": 50, "altmış": 60, "altmis": 60,
    "yetmiş": 70, "yetmis": 70, "seksen": 80, "doksan": 90, "yüz": 100, "yuz": 100,
    "bin": 1000, "milyon": 10**6,
}
# Whisper's mishearings of digit words on Turkish telephone audio (none is a Turkish word):
# "sofr, sufur, suför, sırfır, Nero" for sıfır, "dokuls" for dokuz, "ikil" for iki.
_TR_MISHEARD = {
    "sofr": 0, "sofor": 0, "sofır": 0, "sofir": 0, "sufur": 0, "sufır": 0, "sufir": 0, "sıfr": 0, "sifr": 0,
    "sufor": 0, "suför": 0, "süfür": 0, "sıfor": 0, "sifor": 0, "sofur": 0, "sufr": 0,
    "sırfır": 0, "sirfir": 0, "zıfır": 0, "zifir": 0, "sıfıf": 0, "nero": 0, "sero": 0, "ikil": 2, "ikı": 2,
    "dokuls": 9, "dokus": 9, "dokız": 9, "doküz": 9, "sekis": 8, "sekız": 8, "dörd": 4, "yeddi": 7,
}
_EN_MISHEARD = {"nero": 0, "ziro": 0, "fife": 5, "niner": 9}
_TR_FOLD_CLASH = {"ön", "uç"}  # real words that fold onto a number word ("ön" front -> "on")
_EN_NUM = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven "
                                      "twelve thirteen fourteen fifteen sixteen seventeen eighteen "
                                      "nineteen".split())}
_EN_NUM |= {"oh": 0, "o": 0, "nought": 0, "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40,
            "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
            "thousand": 1000, "million": 10**6}
_MULT = {"double": 2, "triple": 3}
_FILLERS = set("ve and tire dash hyphen bosluk space ee eee eeee ii iii hm hmm uh um umm uhm er erm sey".split())
_TR_AREA = set("212 216 222 224 226 228 232 236 242 246 248 252 256 258 262 264 266 272 274 276 282 284 "
               "286 288 312 318 322 324 326 328 332 338 342 344 346 348 352 354 356 358 362 364 366 368 "
               "370 372 374 376 378 380 382 384 386 388 412 414 416 422 424 426 428 432 434 436 438 442 "
               "446 452 454 456 458 462 464 466 472 474 476 478 482 484 486 488".split())
_TLDS = set("com net org edu gov mil int info biz io co me tv app dev ai name pro tr uk de fr nl it es us "
            "ca au ru az eu ch at be se no dk fi pl pt gr ie jp cn in br mx cz ro hu bg ua kz ge cy il ae "
            "sa qa za nz sg hk kr".split())
_PROVIDERS = set("gmail googlemail hotmail outlook live msn yahoo ymail icloud aol yandex mynet protonmail "
                 "proton gmx superonline ttmail windowslive".split())
_CURRENCY = set("lira tl try kurus dolar dollar dollars usd euro euros eur avro sterlin pound pounds cent "
                "cents pence".split())
_ID_CUES = ("kimli", "tckn", "vatanda", "identity")
_DOT_WORDS = {"nokta", "dot"}
_SEP_WORDS = {"nokta": ".", "dot": ".", "underscore": "_", "tire": "-", "dash": "-", "hyphen": "-"}
_LOCAL_STOP = set("is my email mail eposta posta adresim adresi adres address it s me benim evet yes the "
                  "was its e dir".split())
_RANK = {"iban": 0, "card": 1, "tckn": 2, "email": 3, "phone": 4, "unchecked": 5}
_CARD_LEN_PREF = {16: 0, 15: 1, 19: 2, 13: 3, 14: 4, 17: 5, 18: 6}
_TOKEN_RE = re.compile(r"\d+|[^\W\d_]+|\S")


@dataclass
class _Tok:
    kind: str  # "d" digits | "a" letters | "p" punctuation
    text: str  # digits, folded letters, or the punctuation mark
    low: str  # lower-cased with diacritics kept (number-word lookup)
    pos: int  # position in this channel's word list
    joined: bool  # directly attached to the previous token (same written word)


@dataclass
class _Group:
    digits: str
    first: int  # token indices
    last: int
    lead: int | None = None  # token index of a "+"/"artı"/"plus" before it
    amount: bool = False  # built with bin/milyon/thousand: a stream of its own, never PII


@dataclass
class _Cand:
    kind: str
    first: int  # group indices while in a stream, then channel word positions (inclusive)
    last: int
    valid: bool
    value: str
    rank: int


def _tokens(words: list[Word], language: str) -> list[_Tok]:
    toks: list[_Tok] = []
    for pos, w in enumerate(words):
        prev_end = -1
        for m in _TOKEN_RE.finditer(lower(w.text, language)):
            s = m.group()
            kind = "d" if s.isdigit() else "a" if s[0].isalpha() else "p"
            toks.append(_Tok(kind, (fold(s, language) or s) if kind == "a" else s, s, pos, m.start() == prev_end))
            prev_end = m.end()
    return toks


def _lexicon(language: str) -> dict[str, int]:
    return _TR_NUM if (language or "tr")[:2] in ("tr", "az") else _EN_NUM


@lru_cache(maxsize=4096)
def _split_compound(s: str, turkish: bool) -> tuple[int, ...] | None:
    """'onbeş' -> (10, 5), 'ikiyüz' -> (2, 100); None unless wholly number words (>= 2)."""
    lex = _TR_NUM if turkish else _EN_NUM
    best: dict[int, tuple[int, ...]] = {len(s): ()}
    for i in range(len(s) - 1, -1, -1):
        for j in range(len(s), i + 1, -1):
            if j - i >= 2 and s[i:j] in lex and j in best:  # no one-letter pieces ("o")
                best[i] = (lex[s[i:j]], *best[j])
                break
    out = best.get(0)
    return out if out and len(out) >= 2 else None


def _values(t: _Tok, lex: dict[str, int]) -> tuple[int, ...] | None:
    turkish = lex is _TR_NUM
    if t.low in lex or (turkish and t.text in lex and t.low not in _TR_FOLD_CLASH):
        return (lex.get(t.low, lex.get(t.text)),)
    misheard = _TR_MISHEARD if turkish else _EN_MISHEARD
    if t.low in misheard or t.text in misheard:
        return (misheard.get(t.low, misheard.get(t.text)),)
    if len(t.low) >= 4:
        return _split_compound(t.low, turkish) or (turkish and _split_compound(t.text, True)) or None
    return None


def _tr_glued(t: _Tok) -> tuple[int, ...] | None:
    """'tereyki', 'tereiki', 'tesekiz' -> the number words after a glued spoken 'TR' prefix."""
    for prefix in ("tere", "tre"):
        rest = t.text[len(prefix):]
        if t.text.startswith(prefix) and len(rest) >= 2:
            # the buffer "y" of "tere-y-iki", or "y" heard for the "i" of "iki"
            for cand in (rest, rest[1:] if rest[0] == "y" else None, "i" + rest[1:] if rest[0] == "y" else None):
                if cand:
                    vals = _values(_Tok("a", cand, cand, t.pos, False), _TR_NUM)
                    if vals is not None:
                        return vals
    return None


class _Builder:
    """One spoken group: [thousands] [h yüz] [tens] [unit]."""

    def __init__(self, first: int, lead: int | None):
        self.total, self.scale, self.h, self.t, self.u = 0, 0, None, None, None
        self.first, self.last, self.lead = first, first, lead

    def value(self) -> int:
        return self.total + (self.h or 0) * 100 + (self.t or 0) + (self.u or 0)

    def feed(self, v: int, nxt: int | None) -> bool:
        """Add a number word's value; False when it cannot continue this group."""
        empty = self.h is None and self.t is None and self.u is None
        if v < 10:
            if self.u is not None or (nxt == 100 and not empty):
                return False  # "otuz iki yüz": the unit multiplies the next hundred
            self.u = v
        elif v < 100:
            if self.t is not None or self.u is not None:
                return False
            self.t, self.u = v, (None if v % 10 == 0 else 0)  # a teen fills the unit too
        elif v == 100:
            if self.h is not None or self.t is not None:
                return False
            self.h, self.u = self.u or 1, None
        else:
            if (self.scale and v >= self.scale) or (empty and self.total):
                return False
            self.total += ((self.value() - self.total) or 1) * v
            self.h = self.t = self.u = None
            self.scale = v
        return True


def _events(toks: list[_Tok], lex: dict[str, int]) -> list[tuple[str, object, int]]:
    """(kind, value, token index); kinds: n number word, d digits, m double/triple, g group break,
    f filler, + plus sign, tr IBAN prefix, x stream break."""
    events: list[tuple[str, object, int]] = []
    i = 0
    while i < len(toks):
        t, nxt = toks[i], (toks[i + 1] if i + 1 < len(toks) else None)
        spoken_tr = t.text in ("te", "t") and nxt is not None and nxt.text in ("re", "r")
        if t.kind == "d":
            events.append(("d", t.text, i))
        elif t.kind == "p" and t.text in "'’" and nxt is not None and nxt.kind == "a" and nxt.joined:
            i += 1  # Turkish suffix: 0532'yi, 5'i
        elif t.kind == "p" and t.text != "-":
            events.append(({"+": "+", ":": "x", "@": "x"}.get(t.text, "g"), None, i))
        elif t.text in ("tr", "tere") or spoken_tr:
            events.append(("tr", None, i))
            i += spoken_tr
        elif lex is _TR_NUM and (glued := _tr_glued(t)) is not None:  # "tereyki" = TR + iki
            events.append(("tr", None, i))
            events.extend(("n", v, i) for v in glued)
        elif (vals := _values(t, lex)) is not None:
            events.extend(("n", v, i) for v in vals)
        elif lex is _EN_NUM and t.text in _MULT:
            events.append(("m", _MULT[t.text], i))
        elif t.kind == "a":
            kind = "+" if t.text in ("arti", "plus") else "f" if t.text in _FILLERS else "x"
            events.append((kind, t.text, i))
        i += 1
    return events


def _streams(toks: list[_Tok], lex: dict[str, int]) -> list[tuple[list[_Group], int | None, bool]]:
    """Digit streams: (groups, token index of a TR prefix or None, ended by a currency word)."""
    events = _events(toks, lex)
    streams: list[tuple[list[_Group], int | None, bool]] = []
    groups: list[_Group] = []
    st: dict = {"tr": None, "lead": None, "mult": None, "fill": 0}
    b: _Builder | None = None

    def close() -> None:
        nonlocal b
        done, b = b, None
        if done is not None and done.scale:  # an amount ("on iki bin") is never an identifier
            brk()
            streams.append(([_Group(str(done.value()), done.first, done.last, None, True)], None, False))
        elif done is not None:
            groups.append(_Group(str(done.value()), done.first, done.last, done.lead))

    def brk(currency: bool = False) -> None:
        nonlocal groups
        close()
        if groups:
            streams.append((groups, st["tr"], currency))
        groups = []
        st.update(tr=None, lead=None, mult=None, fill=0)

    for k, (kind, val, i) in enumerate(events):
        nxt = events[k + 1][1] if k + 1 < len(events) and events[k + 1][0] == "n" else None
        mult = st["mult"]
        if kind == "d" or (kind == "n" and (val == 0 or (mult and val < 10))):
            close()
            digits, first = (val if kind == "d" else str(val)), i
            if mult and len(digits) == 1:
                digits, first = digits * mult[0], mult[1]
            groups.append(_Group(digits, first, i, st["lead"]))
            st.update(lead=None, mult=None, fill=0)
        elif kind == "n" and val >= 1000 and b is None and k and events[k - 1][0] == "d" and groups:
            g = groups.pop()  # "12 bin": an amount
            brk()
            streams.append(([_Group(str(int(g.digits) * val), g.first, i, None, True)], None, False))
        elif kind == "n":
            if b is None or not b.feed(val, nxt):
                close()
                b = _Builder(i, st["lead"])
                b.feed(val, nxt)
            b.last = i
            st.update(lead=None, mult=None, fill=0)
        elif kind == "f" and val in ("and", "ve") and b is not None and b.h is not None and b.t is None \
                and b.u is None and nxt is not None and nxt < 100:
            continue  # "one hundred and twenty"
        elif kind in ("m", "g", "f", "+"):
            close()
            st["fill"] += kind == "f"
            if st["fill"] > 2:
                brk()
            elif kind in ("m", "+"):
                st["mult" if kind == "m" else "lead"] = (val, i) if kind == "m" else i
        elif kind == "tr":
            brk()
            st["tr"] = i
        else:
            brk(val in _CURRENCY)
    brk()
    return streams


def digit_groups(text: str, language: str) -> list[str]:
    """Debug view of the number grammar: one string per stream, groups space-separated."""
    toks = _tokens([Word(0.0, 0.0, t, 1.0) for t in text.split()], language)
    return [" ".join(g.digits for g in groups) for groups, *_ in _streams(toks, _lexicon(language))]


def digit_runs(words: list[Word], language: str, min_digits: int = CUE_MIN_DIGITS) -> list[tuple[float, float, int]]:
    """(start, end, digit count) of every number stream of at least `min_digits` digits left in
    `words` (amounts such as "iki bin" excluded): what a redacted transcript should no longer hold."""
    toks = _tokens(words, language)
    out = []
    for groups, *_ in _streams(toks, _lexicon(language)):
        digits = "".join(g.digits for g in groups if not g.amount)
        if len(digits) >= min_digits:
            first, last = words[toks[groups[0].first].pos], words[toks[groups[-1].last].pos]
            out.append((first.start, last.end, len(digits)))
    return out


def _tr_national(d: str) -> bool:
    return len(d) == 10 and (d[0] == "5" or d[:3] in _TR_AREA)


def _is_phone(d: str, plus: bool, turkish: bool) -> bool:
    if plus:
        return _tr_national(d[2:]) if d.startswith("90") else 8 <= len(d) <= 15 and d[0] != "0"
    if d.startswith("0090"):
        return _tr_national(d[4:])
    if _tr_national(d) or ((d[:2] == "90" and len(d) == 12 or d[0] == "0" and len(d) == 11) and _tr_national(d[-10:])):
        return True
    if d.startswith("00") and 11 <= len(d) <= 15 and d[2] != "0":
        return True
    if turkish:
        return False
    nanp = d[1:] if len(d) == 11 and d[0] == "1" else d
    if len(nanp) == 10 and nanp[0] in "23456789" and nanp[3] in "23456789":
        return True
    return len(d) == 11 and d.startswith("07") and d[2] != "0"  # UK mobile


def _classify(s: str, plus: bool, turkish: bool) -> str | None:
    if len(s) == 24 and _iban.is_valid("TR" + s):
        return "iban"
    if 13 <= len(s) <= 19 and s[0] in "23456" and _luhn.is_valid(s):
        return "card"
    if len(s) == 11 and _tckimlik.is_valid(s):
        return "tckn"
    return "phone" if _is_phone(s, plus, turkish) else None


def _stream_cands(g: list[_Group], tr: int | None, currency: bool, toks: list[_Tok], turkish: bool) -> list[_Cand]:
    n = len(g)
    found: list[tuple[tuple[int, int, int], _Cand]] = []
    for i in range(n):
        s = ""
        for j in range(i, n):
            s += g[j].digits
            if len(s) > 24:
                break
            if kind := _classify(s, g[i].lead is not None, turkish):
                pref = _CARD_LEN_PREF.get(len(s), 9) if kind == "card" else -len(s)
                found.append(((_RANK[kind], pref, i), _Cand(kind, i, j, True, s, _RANK[kind])))
    used, chosen = [False] * n, []
    for _, c in sorted(found, key=lambda f: f[0]):
        if not any(used[c.first : c.last + 1]):
            chosen.append(c)
            used[c.first : c.last + 1] = [True] * (c.last - c.first + 1)
    for c in [c for c in chosen if c.kind != "iban"]:
        lo, hi = c.first, c.last  # widen over the unclaimed groups touching the match
        while lo > 0 and not used[lo - 1]:
            lo -= 1
        while hi < n - 1 and not used[hi + 1]:
            hi += 1
        run = "".join(x.digits for x in g[lo : hi + 1])
        extra = len(run) - len(c.value)
        card_sized = 13 <= len(run) <= 19 and not (c.kind == "card" and len(c.value) == 16) and not (
            c.kind == "phone" and extra <= 2 and run[0] not in "23456")  # "0532 212 34 56, 12"
        if extra >= 5 or (extra and (card_sized or (tr is not None and lo == 0))):
            chosen.remove(c)  # only part of a longer (mis-heard) number: redact the whole run
            used[c.first : c.last + 1] = [False] * (c.last - c.first + 1)
    i = 0
    while i < n:  # pieces that passed no check
        j = i
        while j < n and not used[j]:
            j += 1
        last = j - 2 if currency and j == n and j - 1 > i else j - 1  # "..., 450 ve 600 lira"
        s = "".join(x.digits for x in g[i : last + 1])
        before = [t.text for t in toks[max(0, g[i].first - 8) : g[i].first] if t.kind == "a"]
        cue = "tc" in before or ("t", "c") in zip(before, before[1:]) or any(w.startswith(_ID_CUES) for w in before)
        if len(s) >= MIN_UNCHECKED_DIGITS:
            kind = ("iban" if tr is not None and i == 0 and len(s) >= 20 else
                    "card" if 13 <= len(s) <= 19 and s[0] in "23456" else "number")
            chosen.append(_Cand(kind, i, last, False, s, _RANK["unchecked"]))
        elif len(s) == 11 and s[0] != "0" and cue:  # "kimlik numaram ..." with a mis-heard digit
            chosen.append(_Cand("tckn", i, last, False, s, _RANK["unchecked"]))
        i = max(j, i + 1)
    for c in chosen:  # group indices -> word positions
        first = g[c.first].lead if g[c.first].lead is not None else g[c.first].first
        if c.kind == "iban":
            first = tr if tr is not None and c.first == 0 else first
            c.value = "TR" + c.value
        c.first, c.last = toks[first].pos, toks[g[c.last].last].pos
    return chosen


def _number_cands(toks: list[_Tok], language: str) -> list[_Cand]:
    lex = _lexicon(language)
    return [c for g, tr, cur in _streams(toks, lex) if not g[0].amount
            for c in _stream_cands(g, tr, cur, toks, lex is _TR_NUM)]


def _written_iban_cands(words: list[Word]) -> list[_Cand]:
    out = []
    compact = [re.sub(r"[\W_]", "", w.text).upper() for w in words]
    for a, first in enumerate(compact):
        if not re.match(r"[A-Z]{2}\d{2}", first):
            continue
        s, best = "", None
        for b in range(a, min(a + 12, len(words))):
            s += compact[b]
            if len(s) > 34 or not compact[b]:
                break
            if len(s) >= 15 and _iban.is_valid(s):
                best = (b, s)
        if best:
            out.append(_Cand("iban", a, best[0], True, best[1], _RANK["iban"]))
    return out


# ---- cue context: what follows "IBAN", "kimlik", "kart", "hesap", "numara", "CVV", "son kullanma" ...
_CUE_WINDOW = 12  # words after a cue in which a run may start
_CUE_GAP = 2  # non-digit words tolerated between digit-like words of one run (mis-heard digits)
_FUZZY_TR = {"sifir": 0, "sekiz": 8, "dokuz": 9}
_CUE_LENGTHS = {"iban": (20, 26), "tckn": (9, 12), "card": (12, 19)}  # else an unverified run is a "number"
_NOT_PERSONAL = ("siparis", "order", "fatura", "invoice", "referans", "reference", "takip", "tracking", "kargo",
                 "ariza", "ticket", "talep", "case", "kayit", "dosya", "police", "policy")
_MONTHS = set("ocak subat mart nisan mayis haziran temmuz agustos eylul ekim kasim aralik january february "
              "march april may june july august september october november december".split())


def _cue_kind(toks: list[_Tok], k: int) -> str | None:
    """The kind of identifier the token at `k` announces, if it is a cue word."""
    t, nxt = toks[k].text, (toks[k + 1].text if k + 1 < len(toks) else "")
    prev = toks[k - 1].text if k else ""
    if t in ("cvv", "cvc", "cv2", "cvv2") or (t == "guvenlik" and nxt.startswith(("kod", "numara"))) or (
            t == "security" and nxt == "code") or t.startswith("arkasinda"):
        return "cvv"
    if (t == "son" and nxt.startswith("kullanma")) or t in ("skt", "expiry", "expiration", "expires", "exp") or (
            t == "valid" and nxt in ("thru", "through", "until")) or t.startswith("gecerlilik"):
        return "expiry"
    if (t == "dogum" and nxt.startswith("tarih")) or t in ("dob", "birthday", "birthdate") or (
            t == "birth" and prev == "of"):  # "doğum tarihim", "date of birth"
        return "dob"
    if t in ("iban", "ivan", "yivan", "ayban", "iben", "ubane", "ibane", "tr", "tere") or t.startswith(("hesap", "hesab")) or t == "account":
        return "iban"
    if t.startswith(_ID_CUES) or t in ("tc", "kimliyim") or (t == "c" and prev == "t"):
        return "tckn"
    if t.startswith("kart") or t in ("card", "kredi", "credit", "debit"):
        return "card"
    if t.startswith("numara") or t == "number":
        return "number"
    return None


def _fuzzy_digit(t: _Tok, turkish: bool) -> int | None:
    """A digit for a Turkish word one edit away from sıfır, sekiz or dokuz ("sekis", "dokus").

    Only these three: shorter digit words sit one edit from common words ("yeni"/yedi, "alt"/altı),
    and English ones too ("live"/five, "for"/four), so those are never guessed.
    """
    from rapidfuzz.distance import Levenshtein

    if not turkish or t.kind != "a" or len(t.text) < 4:
        return None
    hits = {v for w, v in _FUZZY_TR.items() if Levenshtein.distance(t.text, w) <= 1}
    return hits.pop() if len(hits) == 1 else None


def _digitish(t: _Tok, lex: dict[str, int], kind: str) -> str | None:
    """The canonical number text of a digit-like token in cue context, else None."""
    if t.kind == "d":
        return t.text
    if t.kind != "a":
        return None
    if kind in ("expiry", "dob") and t.text in _MONTHS:
        return "00"
    vals = _values(t, lex)
    if vals is not None:
        return " ".join(str(v) if v < 10 else next(w for w, x in lex.items() if x == v) for v in vals)
    d = _fuzzy_digit(t, lex is _TR_NUM)
    return None if d is None else str(d)


def _run_digits(texts: list[str], lex: dict[str, int], language: str) -> str:
    """The digits a run of canonical number texts spells, through the number grammar (amounts dropped)."""
    words = [Word(0.0, 0.0, x, 1.0) for t in texts for x in t.split()]
    return "".join(g.digits for groups, *_ in _streams(_tokens(words, language), lex) for g in groups if not g.amount)


def _cue_cands(toks: list[_Tok], language: str, times: list[float] | None = None,
               outside: list[tuple[float, str]] | None = None) -> list[_Cand]:
    """Digit-like runs after identifier cues, gaps of mis-heard words included (never checksum-checked).

    `times` are the start times of this channel's words and `outside` the (time, kind) of cues said
    on the other channel (the agent asks "kimlik numaranız?", the customer answers): they count for
    `OUTSIDE_CUE_S` seconds. Without any cue a run needs `WEAK_MIN_DIGITS` digits.
    """
    lex = _lexicon(language)
    turkish = lex is _TR_NUM
    out: list[_Cand] = []
    cue: tuple[str, int] | None = None  # (kind, word position of the cue); kind "none" after "sipariş numarası"

    def active(k: int) -> str:
        if cue is not None and toks[k].pos - cue[1] <= _CUE_WINDOW:
            return cue[0]
        if times and outside:
            t = times[toks[k].pos]
            near = [kind for at, kind in outside if 0 <= t - at <= OUTSIDE_CUE_S]
            if near:
                return near[-1]
        return "weak"

    k = 0
    while k < len(toks):
        kind = _cue_kind(toks, k)
        if kind is not None:
            prev = toks[k - 1].text if k else ""
            if kind == "number" and prev.startswith(_NOT_PERSONAL):  # "sipariş numarası": not about a person
                cue = ("none", toks[k].pos)
            elif cue is None or kind != "number" or toks[k].pos - cue[1] > 3:  # "kart numaram": stays a card
                cue = (kind, toks[k].pos)
            else:
                cue = (cue[0], toks[k].pos)
            k += 1
            continue
        ctx = active(k)
        if ctx == "none" or _digitish(toks[k], lex, ctx) is None or (ctx == "weak" and not _single(toks[k], lex)):
            k += 1
            continue
        first, texts, last_pos, j, last = k, [], toks[k].pos, k, k
        while j < len(toks) and toks[j].pos - last_pos <= _CUE_GAP + 1:
            if _cue_kind(toks, j) is not None:
                break
            d = _digitish(toks[j], lex, ctx)
            if ctx == "weak" and d is not None and not _single(toks[j], lex):
                break  # without a cue only digit-by-digit reading (an identifier's signature) is bridged
            if d is not None:
                if toks[j].pos - last_pos > 1 and _classify(_run_digits(texts, lex, language), False, turkish) in (
                        ctx, "card" if ctx == "number" else ctx, "tckn" if ctx == "number" else ctx):
                    break  # a complete valid number does not reach over a gap ("... 3519. Ekstrede iki ...")
                texts.append(d)
                last, last_pos = j, toks[j].pos
            j += 1
        digits = _run_digits(texts, lex, language)
        after = [t.text for t in toks[last + 1 : last + 4] if t.kind == "a"][:2]
        amount = any(a.startswith(tuple(_CURRENCY)) for a in after)
        want = {"cvv": 3, "expiry": 2, "dob": 2, "weak": WEAK_MIN_DIGITS}.get(ctx, CUE_MIN_DIGITS)
        spoken_numbers = [toks[x] for x in range(first, last + 1) if toks[x].text not in _MONTHS
                          and _digitish(toks[x], lex, ctx) is not None]
        if len(digits) >= want and spoken_numbers and not (amount and len(digits) < MIN_UNCHECKED_DIGITS):
            kind = _classify(digits, False, turkish) if ctx not in ("cvv", "expiry", "dob") else None
            lo, hi = _CUE_LENGTHS.get(ctx, (0, 99))
            guess = ctx if lo <= len(digits) <= hi and ctx != "weak" else "number"
            out.append(_Cand(kind or guess, toks[first].pos, toks[last].pos, kind is not None,
                             ("TR" + digits) if (kind or guess) == "iban" else digits, -1))
            cue = None
        k = last + 1
    return out


def _single(t: _Tok, lex: dict[str, int]) -> bool:
    """A spoken single digit ("dört", "sofr", "dokus"), not written digits, tens or hundreds."""
    if t.kind != "a":
        return False
    vals = _values(t, lex)
    if vals is not None:
        return len(vals) == 1 and vals[0] < 10
    return _fuzzy_digit(t, lex is _TR_NUM) is not None


def cue_times(words: list[Word], language: str) -> list[tuple[float, int | None, str]]:
    """(time, channel, kind) of every identifier cue word in `words`."""
    out = []
    for ch in {w.channel for w in words}:
        chan = [w for w in words if w.channel == ch]
        toks = _tokens(chan, language)
        out += [(chan[t.pos].start, ch, kind) for k, t in enumerate(toks) if (kind := _cue_kind(toks, k))
                and kind != "number"]
    return sorted(out, key=lambda c: c[0])


def _merge_cue(taken: list[_Cand], cue: list[_Cand]) -> list[_Cand]:
    """Each cue run joins the spans it overlaps into one (never shrinking a redaction)."""
    for c in cue:
        hit = [o for o in taken if not (c.last < o.first or c.first > o.last)]
        if not hit:
            taken.append(c)
            continue
        best = max(hit, key=lambda o: (o.valid, o.last - o.first))
        for o in hit:
            taken.remove(o)
        keep = best if best.valid or c.kind in ("number",) else c
        taken.append(_Cand(keep.kind, min([c.first] + [o.first for o in hit]), max([c.last] + [o.last for o in hit]),
                           keep.valid, keep.value, keep.rank))
    return taken


def _domain(toks: list[_Tok], k: int) -> tuple[str, int] | None:
    labels: list[tuple[str, int]] = []
    while k < len(toks) and toks[k].kind in "ad" and toks[k].text not in _DOT_WORDS:
        label, j = toks[k].text, k
        while j + 2 < len(toks) and toks[j + 1].text == "-" and toks[j + 1].joined and toks[j + 2].joined:
            label, j = f"{label}-{toks[j + 2].text}", j + 2
        labels.append((label, j))
        if not (j + 2 < len(toks) and toks[j + 2].kind in "ad" and (
                (toks[j + 1].text == "." and toks[j + 2].joined) or toks[j + 1].text in _DOT_WORDS)):
            break
        k = j + 2
    for m in range(len(labels), 1, -1):
        if labels[m - 1][0] in _TLDS:
            return ".".join(x for x, _ in labels[:m]), labels[m - 1][1]
    return labels[0] if labels and labels[0][0] in _PROVIDERS else None


def _local(toks: list[_Tok], k: int, lex: dict[str, int]) -> tuple[str, int] | None:
    def name(t: _Tok) -> bool:
        return t.kind in "ad" and t.text not in _SEP_WORDS and t.text not in ("at", "et")

    if k < 0 or not name(toks[k]):
        return None
    parts, h = [toks[k].text], k
    while h > 0:
        p, head = toks[h - 1], toks[h]
        if p.kind == "p" and p.text in "._-+" and head.joined and p.joined and h >= 2 and name(toks[h - 2]):
            parts[:0], h = [toks[h - 2].text, p.text], h - 2
        elif p.text in ("cizgi", "tire") and h >= 3 and toks[h - 2].text == "alt" and name(toks[h - 3]):
            parts[:0], h = [toks[h - 3].text, "_"], h - 3
        elif p.text in _SEP_WORDS and h >= 2 and name(toks[h - 2]):
            parts[:0], h = [toks[h - 2].text, _SEP_WORDS[p.text]], h - 2
        elif name(p) and (head.joined or head.kind == "d" or _values(head, lex) is not None):
            parts[:0], h = [p.text], h - 1  # "ahmet1988", "ahmet seksen sekiz"
        else:
            break
    return None if len(parts) == 1 and parts[0] in _LOCAL_STOP else ("".join(parts), h)


def _email_cands(toks: list[_Tok], language: str) -> list[_Cand]:
    out = []
    for k, t in enumerate(toks):
        if t.text in ("@", "at", "et"):
            a0 = a1 = k
        elif t.text == "kuyruklu" and k + 1 < len(toks) and toks[k + 1].text == "a":
            a0, a1 = k, k + 1
        else:
            continue
        if a1 + 1 < len(toks) and toks[a1 + 1].text in ("isareti", "sign"):
            a1 += 1
        dom, loc = _domain(toks, a1 + 1), _local(toks, a0 - 1, _lexicon(language))
        if dom and loc:
            out.append(_Cand("email", toks[loc[1]].pos, toks[dom[1]].pos, True, f"{loc[0]}@{dom[0]}", _RANK["email"]))
    return out


def _mask(kind: str, value: str) -> str:
    if kind == "cvv":
        return "*" * len(value)
    if kind in ("expiry", "dob"):
        return "**/**" if kind == "expiry" else "**/**/****"
    if kind == "email":
        local, domain = value.split("@", 1)
        return f"{local[:1]}***@{domain}"
    if kind == "card":
        return "**** **** **** " + value[-4:]
    if kind == "iban":
        return value[:2] + "*" * (len(value) - 6) + value[-4:]
    keep = 2 if kind == "phone" else 4
    return "*" * (len(value) - keep) + value[-keep:]


def find_pii(words: list[Word], language: str) -> list[PiiSpan]:
    """Personal-data spans in `words` (each within one channel, non-overlapping, in word order)."""
    by_channel: dict[int | None, list[int]] = {}
    for idx, w in enumerate(words):
        by_channel.setdefault(w.channel, []).append(idx)
    spans: list[PiiSpan] = []
    cues = cue_times(words, language) if len(by_channel) > 1 else []
    for ch, idxs in by_channel.items():
        chan = [words[i] for i in idxs]
        outside = [(t, kind) for t, c, kind in cues if c != ch]
        toks = _tokens(chan, language)
        taken: list[_Cand] = []
        cands = _number_cands(toks, language) + _written_iban_cands(chan) + _email_cands(toks, language)
        for c in sorted(cands, key=lambda c: (c.rank, c.first - c.last, c.first)):
            if all(c.last < o.first or c.first > o.last for o in taken):
                taken.append(c)
        taken = _merge_cue(taken, _cue_cands(toks, language, [w.start for w in chan], outside))
        taken.sort(key=lambda c: c.first)
        spans += [PiiSpan(c.kind, idxs[c.first], idxs[c.last], chan[c.first].start,
                          max(w.end for w in chan[c.first : c.last + 1]), c.valid, _mask(c.kind, c.value))
                  for c in taken]
    return sorted(spans, key=lambda s: (s.first_word, s.last_word))


def redact_words(words: list[Word], spans: list[PiiSpan]) -> list[Word]:
    """Copies of `words`; each span's words (those of its first word's channel) become ONE token
    word ("[CARD]", ...) timed like the span, with the lowest probability among them."""
    owner: dict[int, int] = {}
    for si, sp in sorted(enumerate(spans), key=lambda p: (p[1].first_word, p[1].last_word)):
        for i in range(sp.first_word, min(sp.last_word, len(words) - 1) + 1):
            if words[i].channel == words[sp.first_word].channel:
                owner.setdefault(i, si)
    prob: dict[int, float] = {}
    first: dict[int, int] = {}
    for i, si in sorted(owner.items()):
        prob[si] = min(prob.get(si, 1.0), words[i].probability)
        first.setdefault(si, i)
    out: list[Word] = []
    for i, w in enumerate(words):
        si = owner.get(i)
        if si is None:
            out.append(replace(w))
        elif first[si] == i:
            sp = spans[si]
            out.append(Word(sp.start_s, sp.end_s, TOKEN.get(sp.kind, "[PII]"), prob[si], w.channel))
    return out


def redact_text(text: str, language: str) -> tuple[str, list[PiiSpan]]:
    """Redact plain text; pseudo-words are its whitespace-separated pieces, timed 1 s each by index."""
    words = [Word(float(i), float(i + 1), t, 1.0) for i, t in enumerate(text.split())]
    spans = find_pii(words, language)
    return " ".join(w.text for w in redact_words(words, spans)), spans
