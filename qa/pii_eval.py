"""PII recall and precision: what `qa.pii` leaves readable, per kind.

Two sources of spoken items:
- the sample calls (`sample_audio/reference/*.json` lists every card, TC kimlik, IBAN, phone and
  e-mail read aloud, with its time): the pipeline's stored (redacted) utterances in the item's
  time range are read back;
- ordinary call utterances (`utterance_negatives`) for precision;
- synthesised utterances (`synthetic_cases`, seeded): checksum-valid numbers spoken digit by digit
  or in groups, in Turkish and English, with the mishearings whisper makes on telephone audio
  ("sofr"/"sufur"/"Nero" for zero, "dokuls", "ikil", a digit heard as a name), filler words
  between groups, a cue word before ("IBAN", "kimlik", "kart", "hesap") or none, plus CVVs and
  expiry dates after their cues; and negatives (times, prices, durations, dates, counts, order
  numbers) that must come through untouched; birth dates after "doğum tarihim" / "date of birth".

An item is *recalled* when a redaction covers it and no more than `LEAK_DIGITS - 1` consecutive
digits of its value can still be read from what is left (`readable_digits` reads every
digit-like word, mis-heard ones included, and skips all other words, as a hostile reader would).
Precision counts redactions on the negatives as false positives.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from qa.pii import KINDS, redact_text

LEAK_DIGITS = 6  # a 6-digit partial of a card, TC kimlik or IBAN counts as a leak

_TR = "sıfır bir iki üç dört beş altı yedi sekiz dokuz".split()
_EN = "zero one two three four five six seven eight nine".split()
_TR_MISHEARD = {"0": ["sofr", "sufur", "sırfır", "Nero", "sofor"], "9": ["dokuls"], "2": ["ikil"]}
_EN_MISHEARD = {"0": ["Nero", "oh"]}
_GAP_WORDS = ["Dilek'i", "rukiye", "evet", "şey", "hı"]


@dataclass
class Case:
    kind: str  # a qa.pii kind, or "negative"
    language: str
    text: str
    value: str  # the digits (or e-mail) that must not stay readable; "" for a negative
    source: str  # "synthetic" or a sample call id


def readable_digits(text: str, language: str) -> str:
    """Every digit a reader could take from `text`: digits, number words, mis-heard digit words."""
    from qa.asr import Word
    from qa.pii import _Tok, _digitish, _lexicon, _run_digits, _tokens

    lex = _lexicon(language)
    toks: list[_Tok] = _tokens([Word(0.0, 0.0, t, 1.0) for t in text.split()], language)
    texts = [d for t in toks if (d := _digitish(t, lex, "number")) is not None]
    return _run_digits(texts, lex, language) if texts else ""


def email_leak(address: str, text: str, language: str) -> int:
    """1 when the address's local part can still be read ("david nokta miller", "david.miller"):
    its pieces in order, joined by a spoken or written dot. A name said alone is not a leak."""
    import re

    from qa.text import fold

    def norm(s: str) -> str:
        s = re.sub(r"\b(nokta|dot)\b", " . ", s.lower())
        return "".join(".".join(fold(p, language).replace(" ", "") for p in tok.split(".")) for tok in s.split())

    return int(norm(address.split("@")[0]) in norm(text))


def longest_leak(value: str, readable: str) -> int:
    """The longest run of `value`'s digits that appears in `readable` (longest common substring)."""
    best = 0
    prev = [0] * (len(readable) + 1)
    for a in value:
        cur = [0] * (len(readable) + 1)
        for j, b in enumerate(readable, 1):
            if a == b:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def _valid_numbers(rng: random.Random) -> dict[str, str]:
    from stdnum import iban, luhn
    from stdnum.tr import tckimlik

    base = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(8))
    tckn = base + tckimlik.calc_check_digits(base)
    bban = "000" + "".join(str(rng.randint(0, 9)) for _ in range(19))
    tr_iban = "TR" + iban.calc_check_digits("TR00" + bban) + bban
    card15 = rng.choice("45") + "".join(str(rng.randint(0, 9)) for _ in range(14))
    card = card15 + luhn.calc_check_digit(card15)
    return {"tckn": tckn, "iban": tr_iban, "card": card}


def _speak(digits: str, language: str, rng: random.Random, mishear: float, gaps: float) -> str:
    words = _TR if language == "tr" else _EN
    misheard = _TR_MISHEARD if language == "tr" else _EN_MISHEARD
    out = []
    for i, d in enumerate(digits):
        w = words[int(d)]
        if d in misheard and rng.random() < mishear:
            w = rng.choice(misheard[d])
        out.append(w + ("," if i % 4 == 3 else ""))
        if rng.random() < gaps and i < len(digits) - 1:
            out.append(rng.choice(_GAP_WORDS))  # a digit or two heard as some other word
    return " ".join(out)


_CUES = {
    ("tr", "tckn"): ["TC kimlik numaram", "kimlik numarası şöyle", "kimliğimde yazan"],
    ("tr", "iban"): ["IBAN numaram", "hesap numaram", "TR"],
    ("tr", "card"): ["kart numaram", "kartımın numarası"],
    ("en", "card"): ["my card number is", "the card is"],
}
_NEGATIVES = {
    "tr": ["saat on dört otuzda arayın", "toplam iki yüz elli lira", "yaklaşık yirmi dakika sürer",
           "on beş gün içinde dönüş yapılır", "faturanız dört yüz otuz iki lira elli kuruş",
           "sipariş numaranız bir iki üç dört beş altı yedi", "iki bin yirmi dört yılında", "üç tane modem var",
           "saat dokuz buçukta teknisyen gelecek", "bir dakika bekler misiniz", "on iki ay taahhüt var",
           "yüzde yirmi indirim", "iki, üç gün sürebilir", "otuz beş megabit hız", "sekiz numaralı şube",
           "3 gün içinde, 12.05.2024 tarihinde saat 14:30'da", "fatura tutarı 1.250,50 TL, 3 taksit",
           "250, 300, 450 ve 600 lira", "bir dakika, bir saniye, bir şey daha, bir de şu var",
           "hesabınıza iki yüz elli lira, yani iki yüz elli TL yatacak", "kartınız iki, üç iş günü içinde gelir",
           "kartın arkasındaki üç haneli kodu söylemeyin", "son kullanma tarihi geçmiş olabilir",
           "yedi gün yirmi dört saat açığız", "bir, iki, üç diye sayarak modemi yeniden başlatın",
           "kimlik kartınızın ön yüzünde yazıyor", "on, on beş dakika sonra tekrar deneyin",
           "dokuz yüz doksan dokuz lira doksan dokuz kuruş", "saat sekiz ile on yedi arası"],
    "en": ["call us at two thirty", "it costs forty nine ninety nine", "it takes about fifteen minutes",
           "your bill is one hundred and twelve pounds", "order number one two three four five six seven",
           "in twenty twenty four", "three or four days", "the meter read four five six seven",
           "wait one minute please", "a twelve month contract",
           "It says $312 for one month, due on the 21st of June 1990.", "I live at twelve Oak Lane",
           "one, two, three, then press the reset button", "between nine and five thirty",
           "your card will arrive in three to five working days", "the account was opened in twenty nineteen",
           "that's two hundred and forty pounds and fifty pence", "I'll call back in ten or fifteen minutes"],
}


def synthetic_cases(seed: int = 14, per_kind: int = 40) -> list[Case]:
    """Seeded spoken items with mishearings and gaps, CVV/expiry after cues, and negatives."""
    rng = random.Random(seed)
    cases: list[Case] = []
    for _ in range(per_kind):
        nums = _valid_numbers(rng)
        for (lang, kind), cues in _CUES.items():
            value = nums[kind][2:] if kind == "iban" else nums[kind]
            mishear, gaps = rng.choice([(0.0, 0.0), (0.5, 0.0), (0.5, 0.08), (0.9, 0.12)])
            spoken = _speak(value, lang, rng, mishear, gaps)
            cue = rng.choice(cues + [""])  # a fifth to a third with no cue at all
            if kind == "iban" and cue != "TR":
                spoken = f"TR {spoken}" if rng.random() < 0.5 else spoken
            cases.append(Case(kind, lang, f"{cue} {spoken}. Teşekkürler." if lang == "tr" else
                              f"{cue} {spoken}. Thanks.", value, "synthetic"))
        cvv = "".join(str(rng.randint(0, 9)) for _ in range(3))
        cases.append(Case("cvv", "tr", f"kartın arkasındaki güvenlik kodu {_speak(cvv, 'tr', rng, 0.3, 0)}", cvv,
                          "synthetic"))
        cases.append(Case("cvv", "en", f"the CVV is {_speak(cvv, 'en', rng, 0.3, 0)}", cvv, "synthetic"))
        day, birth_year = rng.randint(1, 28), rng.randint(1940, 2005)
        tr_months = "ocak şubat mart nisan mayıs haziran temmuz ağustos eylül ekim kasım aralık".split()
        cases.append(Case("dob", "tr", f"doğum tarihim {day} {rng.choice(tr_months)} {birth_year}, teşekkürler",
                          f"{birth_year}", "synthetic"))
        cases.append(Case("dob", "en", f"my date of birth is the {day}th of May {birth_year}", f"{birth_year}",
                          "synthetic"))
        month, year = rng.randint(1, 12), rng.randint(26, 33)
        cases.append(Case("expiry", "tr", f"son kullanma tarihi {month:02d}/{year}", f"{month:02d}{year}", "synthetic"))
        cases.append(Case("expiry", "en", f"the expiry date is {_EN[month] if month < 10 else month} {year}",
                          f"{year}", "synthetic"))
    for lang, texts in _NEGATIVES.items():
        cases += [Case("negative", lang, t, "", "synthetic") for t in texts]
    return cases


def _load(path) -> Any:
    import json

    return json.loads(path.read_text(encoding="utf-8"))


def reference_cases(samples) -> list[Case]:
    """The sample calls' scripts, turn by turn: each turn with a PII item is a positive, the others
    (every ordinary sentence of 9 calls: prices, times, durations, counts) are negatives."""
    cases = []
    for path in sorted((samples / "reference").glob("*.json")):
        ref = _load(path)
        items = {p["turn"]: p for p in ref.get("pii", [])}
        for turn in ref["turns"]:
            item = items.get(turn["idx"])
            if item is None:
                cases.append(Case("negative", ref["language"], turn["text"], "", ref["call_id"]))
            else:
                cases.append(Case(item["type"], ref["language"], turn["text"], _digits_of(item), ref["call_id"]))
    return cases


def utterance_negatives() -> list[Case]:
    """The held-out labelled call utterances (tests/data/sentiment: ordinary sentences in both
    languages, ASR-style ones too) without personal data: every redaction there is a false one."""
    import json

    from qa.sentiment.evaluate import heldout_path

    cases = []
    for lang in ("tr", "en"):
        path = heldout_path(lang)
        if path.is_file():
            texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            # a sentence already carrying a redaction token ("the card is [CARD] expiry nine twenty
            # seven") is about personal data: not a negative
            cases += [Case("negative", lang, t, "", path.name) for t in texts if "[" not in t]
    return cases


def hypothesis_cases(samples) -> list[Case]:
    """What bare whisper base heard in the sample calls (`asr/whisper_base_wer.json`, one text per role):
    the real mishearings ("sofor", "sufur", "ikil", "yıvan numaranız")."""
    path = samples / "asr" / "whisper_base_wer.json"
    if not path.is_file():
        return []
    hyps = _load(path)
    cases = []
    for ref_path in sorted((samples / "reference").glob("*.json")):
        ref = _load(ref_path)
        roles = {t["idx"]: t["role"] for t in ref["turns"]}
        for item in ref.get("pii", []):
            hyp = hyps.get(ref["call_id"], {}).get("hypothesis", {})
            text = hyp.get(roles[item["turn"]], hyp.get("all", ""))  # mono calls: one text
            if text:
                cases.append(Case(item["type"], ref["language"], text, _digits_of(item), f"{ref['call_id']} (whisper)"))
    return cases


def _digits_of(item: dict[str, Any]) -> str:
    value = str(item["value"])
    return value[2:] if item["type"] == "iban" else value


def _leak_limit(kind: str) -> int:
    """Digits that may stay readable: CVV, expiry and birth date are short, so 3 in a row is a leak;
    for the long numbers 6 in a row is."""
    return {"cvv": 2, "expiry": 2, "dob": 2, "email": 0}.get(kind, LEAK_DIGITS - 1)


def score_cases(cases: list[Case]) -> dict[str, Any]:
    """Recall per kind, leaks, and precision (redactions on negatives are false positives)."""
    per: dict[str, dict[str, Any]] = {}
    false_pos, redactions, leaks = 0, 0, []
    for c in cases:
        out, spans = redact_text(c.text, c.language)
        redactions += len(spans)
        if c.kind == "negative":
            false_pos += len(spans)
            if spans:
                leaks.append({"kind": "false_positive", "text": c.text, "redacted": out})
            continue
        row = per.setdefault(c.kind, {"items": 0, "recalled": 0, "leaked_6plus": 0, "max_leak": 0})
        if c.kind == "email":
            leak = email_leak(c.value, out, c.language)
        else:
            leak = longest_leak(c.value, readable_digits(out, c.language))
        row["items"] += 1
        row["max_leak"] = max(row["max_leak"], leak)
        ok = bool(spans) and leak <= _leak_limit(c.kind)
        row["recalled"] += ok
        row["leaked_6plus"] += c.kind != "email" and leak >= LEAK_DIGITS
        if not ok:
            leaks.append({"kind": c.kind, "text": c.text, "redacted": out, "leak": leak})
    for row in per.values():
        row["recall"] = round(row["recalled"] / row["items"], 3)
    negatives = sum(c.kind == "negative" for c in cases)
    return {"cases": len(cases), "per_kind": {k: per[k] for k in KINDS if k in per}, "negatives": negatives,
            "false_positives": false_pos, "redactions": redactions,
            "precision": round(1 - false_pos / redactions, 3) if redactions else None, "misses": leaks[:20]}


def score_sample_call(ref: dict[str, Any], result: Any) -> list[dict[str, Any]]:
    """One row per PII item a sample call's reference lists, against the pipeline's stored result."""
    rows = []
    for item in ref.get("pii", []):
        lo, hi = item["start_s"] - 0.5, item["end_s"] + 0.5
        spans = [p for p in result.pii if p.start_s < hi and p.end_s > lo]
        said = " ".join(u.text for u in result.utterances if u.start < hi and u.end > lo)
        value = str(item["value"])
        if item["type"] == "email":
            leak = email_leak(value, said, ref["language"])
            ok = bool(spans) and not leak
        else:
            digits = value[2:] if item["type"] == "iban" else value
            leak = longest_leak(digits, readable_digits(said, ref["language"]))
            ok = bool(spans) and leak <= _leak_limit(item["type"])
        rows.append({"call": ref["call_id"], "kind": item["type"], "redacted_as": ",".join(p.kind for p in spans),
                     "recalled": ok, "leak": leak})
    return rows


def summarise_sample_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    per: dict[str, dict[str, Any]] = {}
    for r in rows:
        row = per.setdefault(r["kind"], {"items": 0, "recalled": 0, "leaked_6plus": 0})
        row["items"] += 1
        row["recalled"] += r["recalled"]
        row["leaked_6plus"] += r["kind"] != "email" and r["leak"] >= LEAK_DIGITS
    for row in per.values():
        row["recall"] = round(row["recalled"] / row["items"], 3)
    return {"per_kind": per, "items": rows}
