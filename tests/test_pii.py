"""PII detection and redaction on ASR-like words, table-driven."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from stdnum import iban, luhn
from stdnum.tr import tckimlik

from qa.asr import Word
from qa.pii import PiiSpan, digit_groups, find_pii, redact_text, redact_words

TR_DIGIT = "sıfır bir iki üç dört beş altı yedi sekiz dokuz".split()
EN_DIGIT = "zero one two three four five six seven eight nine".split()


def say_tr(digits: str, group: int = 4) -> str:
    """Digit-by-digit Turkish, comma after every `group` digits (as whisper punctuates pauses)."""
    words = [TR_DIGIT[int(d)] + ("," if (i + 1) % group == 0 else "") for i, d in enumerate(digits)]
    return " ".join(words).rstrip(",")


def say_en(digits: str, group: int = 4) -> str:
    words = [EN_DIGIT[int(d)] + ("," if (i + 1) % group == 0 else "") for i, d in enumerate(digits)]
    return " ".join(words).rstrip(",")


# Valid numbers made with stdnum's own check-digit helpers.
TCKN = "100000001" + tckimlik.calc_check_digits("100000001")  # 10000000146
TCKN2 = "302419875" + tckimlik.calc_check_digits("302419875")  # 30241987532
CARD = "4532071824693519"
CARD_BAD = CARD[:-1] + "8"
VISA_TEST, MC_TEST, AMEX_TEST = "4111111111111111", "5555555555554444", "378282246310005"
_BBAN = "0006100519786457841326"
TR_IBAN = "TR" + iban.calc_check_digits("TR00" + _BBAN) + _BBAN
TR_IBAN_BAD = TR_IBAN[:2] + f"{(int(TR_IBAN[2:4]) + 1) % 100:02d}" + TR_IBAN[4:]


def spaced(value: str, n: int = 4) -> str:
    return " ".join(value[i : i + n] for i in range(0, len(value), n))


def test_generated_numbers_are_what_we_think():
    assert TCKN == "10000000146" and tckimlik.is_valid(TCKN) and tckimlik.is_valid(TCKN2)
    assert not tckimlik.is_valid("12345678901")
    assert all(luhn.is_valid(c) for c in (CARD, VISA_TEST, MC_TEST, AMEX_TEST))
    assert not luhn.is_valid(CARD_BAD)
    assert iban.is_valid(TR_IBAN) and not iban.is_valid(TR_IBAN_BAD)


# (case id, text, language, [(kind, checksum_valid), ...], redacted text)
CASES = [
    # ---- payment cards
    ("visa_digits", f"kart numaram {VISA_TEST}", "tr", [("card", True)], "kart numaram [CARD]"),
    ("mc_digits_en", f"It's {MC_TEST}.", "en", [("card", True)], "It's [CARD]"),
    ("card_tr_words", "Kart numaram dört beş üç iki, sıfır yedi bir sekiz, iki dört altı dokuz, "
     "üç beş bir dokuz. Ekstrede iki tane yüz seksen dokuz liralık çekim var.", "tr", [("card", True)],
     "Kart numaram [CARD] Ekstrede iki tane yüz seksen dokuz liralık çekim var."),
    ("card_tr_ascii", "dort bes uc iki sifir yedi bir sekiz iki dort alti dokuz uc bes bir dokuz",
     "tr", [("card", True)], "[CARD]"),
    ("card_tr_mixed_digits_words", "numara dört 532 0718 yirmi dört altmış dokuz otuz beş on dokuz tamam",
     "tr", [("card", True)], "numara [CARD] tamam"),
    ("card_tr_glued_words", "kart dörtbinbeşyüz", "tr", [], "kart dörtbinbeşyüz"),
    ("card_en_words", "It's four nine one six, three eight two seven, five five one zero, four four "
     "seven five. The expiry date is nine twenty seven.", "en", [("card", True), ("expiry", False)],
     "It's [CARD] The expiry date is [EXPIRY]"),
    ("card_en_double_triple", "four one double one, one one one one, triple one one, one one one one",
     "en", [("card", True)], "[CARD]"),
    ("card_whisper_dashes", "4532-0718-2469-3519.", "tr", [("card", True)], "[CARD]"),
    ("card_whisper_single_digits", "It's 4 9 1 6 3 8 2 7 5 5 1 0 4 4 7 5 The atmosphere village is 927.",
     "en", [("card", True)], "It's [CARD] The atmosphere village is 927."),
    ("card_after_other_digits", f"sıra 1 2 {spaced(VISA_TEST)} tamam", "tr", [("card", True)],
     "sıra 1 2 [CARD] tamam"),
    ("amex_15", "3782 822463 10005", "en", [("card", True)], "[CARD]"),
    ("card_luhn_invalid_redacted_anyway", f"kartım {spaced(CARD_BAD)}", "tr", [("card", False)], "kartım [CARD]"),
    ("card_luhn_invalid_en_not_a_phone", say_en(CARD_BAD), "en", [("card", False)], "[CARD]"),
    ("long_run_bad_iin_is_number", "hesap 9111 1111 1111 1111", "tr", [("number", False)], "hesap [NUMBER]"),
    # a Luhn-valid 14-digit piece inside a mis-heard 16-digit run must not leave the ends readable
    ("chance_luhn_subrun_folded", say_tr("1343573239446525"), "tr", [("number", False)], "[NUMBER]"),
    ("tckn_then_birth_date_merged", f"TC {TCKN}, 12 05 1990", "tr", [("number", False)], "TC [NUMBER]"),
    # ---- TC kimlik
    ("tckn_digits", f"TC kimlik numaram {TCKN}", "tr", [("tckn", True)], "TC kimlik numaram [TCKN]"),
    ("tckn_tr_words", "Kimlik numaram üç sıfır iki, dört bir dokuz, sekiz yedi beş, üç iki.", "tr",
     [("tckn", True)], "Kimlik numaram [TCKN]"),
    ("tckn_tr_pairs", "otuz, yirmi dört, on dokuz, seksen yedi, elli üç, iki", "tr", [("tckn", True)], "[TCKN]"),
    ("tckn_invalid_survives", "sipariş numarası 12345678901 idi", "tr", [], "sipariş numarası 12345678901 idi"),
    # 11 digits read one by one are an identifier's signature even with a bad checksum and no cue
    # (a mis-heard TC kimlik; the cue is often on the agent's channel): redacted as a number
    ("eleven_spoken_digits_redacted", say_tr("10000000147"), "tr", [("number", False)], "[NUMBER]"),
    # after "kimlik"/"TC" a mis-heard (checksum-failing) 11-digit run is still redacted
    ("tckn_invalid_after_cue", f"kimlik numaram {say_tr('10000000147', 3)}", "tr", [("tckn", False)],
     "kimlik numaram [TCKN]"),
    ("tckn_invalid_after_tc", "T.C. no 12345678901", "tr", [("tckn", False)], "T.C. no [TCKN]"),
    # ---- IBAN
    ("iban_written_groups", f"IBAN: {spaced(TR_IBAN)} teşekkürler", "tr", [("iban", True)],
     "IBAN: [IBAN] teşekkürler"),
    ("iban_written_compact", f"iban {TR_IBAN}.", "tr", [("iban", True)], "iban [IBAN]"),
    ("iban_spoken_te_re", f"Te re {say_tr(TR_IBAN[2:])}. Tamam mı?", "tr", [("iban", True)], "[IBAN] Tamam mı?"),
    ("iban_spoken_tr_pairs", "tr otuz üç, sıfır sıfır sıfır altı, on, sıfır beş, on dokuz, yetmiş sekiz, "
     "altmış dört, elli yedi, seksen dört, on üç, yirmi altı", "tr", [("iban", True)], "[IBAN]"),
    ("iban_german", "IBAN DE89 3704 0044 0532 0130 00 please", "en", [("iban", True)], "IBAN [IBAN] please"),
    ("iban_uk_letters", "GB82 WEST 1234 5698 7654 32", "en", [("iban", True)], "[IBAN]"),
    ("iban_bad_checksum_redacted", f"Te re {say_tr(TR_IBAN_BAD[2:])}", "tr", [("iban", False)], "[IBAN]"),
    # ---- phones
    ("phone_tr_digits", "numaram 0532 212 34 56", "tr", [("phone", True)], "numaram [PHONE]"),
    ("phone_tr_brief_example", "sıfır beş yüz otuz iki yüz on iki otuz dört elli altı", "tr",
     [("phone", True)], "[PHONE]"),
    ("phone_tr_grouped_words", "Sıfır beş yüz otuz üç, yedi yüz on sekiz, elli iki, otuz dört. Doğum "
     "tarihim on dokuz ağustos seksen sekiz.", "tr", [("phone", True), ("dob", False)],
     "[PHONE] Doğum tarihim [DOB]"),
    ("phone_tr_no_leading_zero", "beş yüz otuz iki, iki yüz on iki, otuz dört, elli altı", "tr",
     [("phone", True)], "[PHONE]"),
    ("phone_tr_plus90", "+90 532 212 34 56", "tr", [("phone", True)], "[PHONE]"),
    ("phone_tr_arti_doksan", "artı doksan beş yüz otuz iki iki yüz on iki otuz dört elli altı", "tr",
     [("phone", True)], "[PHONE]"),
    ("phone_tr_landline", "ev telefonum 0212 345 67 89", "tr", [("phone", True)], "ev telefonum [PHONE]"),
    ("phone_tr_parens_dashes", "(0532) 212-34-56'yı arayın", "tr", [("phone", True)], "[PHONE] arayın"),
    ("phone_tr_filler_tire", "sıfır beş otuz iki tire iki yüz on iki tire otuz dört ee elli altı", "tr",
     [("phone", True)], "[PHONE]"),
    ("phone_en_words", "My number is two zero two, five five five, zero one four two, and I live at "
     "twelve Oak Lane.", "en", [("phone", True)], "My number is [PHONE] and I live at twelve Oak Lane."),
    ("phone_en_dashes", "my number is 202-555-0142 thanks", "en", [("phone", True)], "my number is [PHONE] thanks"),
    ("phone_en_plus_cc", "plus four four seven seven zero zero nine zero zero one two three", "en",
     [("phone", True)], "[PHONE]"),
    ("phone_en_uk_oh_double", "oh seven seven double oh nine double oh one two three", "en",
     [("phone", True)], "[PHONE]"),
    ("phone_en_nanp_11", "call 1 800 555 0199 today", "en", [("phone", True)], "call [PHONE] today"),
    ("phone_then_stray_digits", "0532 212 34 56 12", "tr", [("phone", True)], "[PHONE] 12"),
    ("order_number_10_digits_survives", "sipariş numaram 1234567890", "tr", [], "sipariş numaram 1234567890"),
    ("us_style_number_in_tr_call_survives", "202 555 0142", "tr", [], "202 555 0142"),
    # ---- e-mails
    ("email_tr_spoken", "Ahmet nokta yılmaz et gmail nokta com.", "tr", [("email", True)], "[EMAIL]"),
    ("email_written", "mailim Ahmet.Yılmaz@gmail.com, teşekkürler", "tr", [("email", True)],
     "mailim [EMAIL] teşekkürler"),
    ("email_en_spoken", "It's john dot smith at example dot com.", "en", [("email", True)], "It's [EMAIL]"),
    ("email_en_mixed", "write to john at example.co.uk please", "en", [("email", True)], "write to [EMAIL] please"),
    ("email_tr_underscore_comtr", "ahmet alt çizgi yılmaz at hotmail nokta com nokta tr", "tr",
     [("email", True)], "[EMAIL]"),
    ("email_written_comtr", "e-posta adresim info@firma.com.tr olarak kayıtlı", "tr", [("email", True)],
     "e-posta adresim [EMAIL] olarak kayıtlı"),
    ("email_digits_in_local", "mehmet seksen sekiz et hotmail nokta com", "tr", [("email", True)], "[EMAIL]"),
    ("email_provider_without_tld", "adresim ayşe et gmail", "tr", [("email", True)], "adresim [EMAIL]"),
    ("not_email_et_verb", "kontrol et sonra tekrar ara", "tr", [], "kontrol et sonra tekrar ara"),
    ("not_email_at_time", "I'll meet you at five at the office.", "en", [], "I'll meet you at five at the office."),
    # ---- numbers that must survive
    ("amount_words", "iki yüz elli lira ödedim", "tr", [], "iki yüz elli lira ödedim"),
    ("amount_thousands", "on iki bin lira, iki yüz yirmi lira", "tr", [], "on iki bin lira, iki yüz yirmi lira"),
    ("date_words", "19 ağustos 1988 doğumluyum", "tr", [], "19 ağustos 1988 doğumluyum"),
    ("date_time_days", "3 gün içinde, 12.05.2024 tarihinde saat 14:30'da", "tr", [],
     "3 gün içinde, 12.05.2024 tarihinde saat 14:30'da"),
    ("money_digits", "fatura tutarı 1.250,50 TL, 3 taksit", "tr", [], "fatura tutarı 1.250,50 TL, 3 taksit"),
    ("amount_list_with_currency", "250, 300, 450 ve 600 lira", "tr", [], "250, 300, 450 ve 600 lira"),
    ("year_words", "iki bin yirmi dört yılında on beş mart", "tr", [], "iki bin yirmi dört yılında on beş mart"),
    ("en_amounts_dates", "It says $312 for one month, due on the 21st of June 1990.", "en", [],
     "It says $312 for one month, due on the 21st of June 1990."),
    ("short_digit_run", "son dört hanesi dört beş üç iki", "tr", [], "son dört hanesi dört beş üç iki"),
    ("on_vs_front", "ön ödemeli hat iki tane", "tr", [], "ön ödemeli hat iki tane"),
    # ---- several in one utterance
    ("phone_and_email", "numaram 0532 212 34 56, mailim ahmet@gmail.com", "tr",
     [("phone", True), ("email", True)], "numaram [PHONE] mailim [EMAIL]"),
    ("tckn_and_card", f"TC {TCKN} kart {VISA_TEST}", "tr", [("tckn", True), ("card", True)], "TC [TCKN] kart [CARD]"),
    ("two_phones_joined_by_ve", "0532 212 34 56 ve 0216 345 67 89", "tr", [("phone", True), ("phone", True)],
     "[PHONE] ve [PHONE]"),
]


@pytest.mark.parametrize("text, language, kinds, redacted", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_detect_and_redact(text, language, kinds, redacted):
    out, spans = redact_text(text, language)
    assert [(s.kind, s.checksum_valid) for s in spans] == kinds
    assert out == redacted


@pytest.mark.parametrize("text, language", [(c[1], c[2]) for c in CASES if c[3]], ids=[c[0] for c in CASES if c[3]])
def test_mask_never_reveals_the_value(text, language):
    _, spans = redact_text(text, language)
    for s in spans:
        visible = re.sub(r"\D", "", s.masked.split("@")[0])
        assert "*" in s.masked
        assert len(visible) <= 4
        if s.kind == "email":
            assert re.fullmatch(r"\w\*\*\*@[\w.-]+", s.masked)


@pytest.mark.parametrize(
    "text, language, expected",
    [
        ("otuz dört elli altı", "tr", ["34 56"]),
        ("dört bir bir bir", "tr", ["4 1 1 1"]),
        ("sıfır beş yüz otuz iki iki yüz on iki otuz dört elli altı", "tr", ["0 532 212 34 56"]),
        ("on iki bin", "tr", ["12000"]),
        ("iki yüz yirmi", "tr", ["220"]),
        ("bin dokuz yüz seksen sekiz", "tr", ["1988"]),
        ("dört 532 ve 45-32", "tr", ["4 532 45 32"]),
        ("onbeş ikiyüz yüzelli", "tr", ["15 200 150"]),
        ("dort bes uc alti kirk altmis sifir", "tr", ["4 5 3 6 40 60 0"]),
        ("four five oh double seven triple one", "en", ["4 5 0 77 111"]),
        ("one hundred and twenty three", "en", ["123"]),
        ("twenty-four nineteen", "en", ["24 19"]),
        ("12 bin lira 5", "tr", ["12000", "5"]),
        ("saat 14:30", "tr", ["14", "30"]),
        ("0532'yi ara", "tr", ["0532"]),
        ("ön iki", "tr", ["2"]),
        ("double 12 triple oh", "en", ["12 000"]),
    ],
)
def test_digit_groups(text, language, expected):
    assert digit_groups(text, language) == expected


def words_of(text: str, start: float = 10.0, step: float = 0.5, channel: int | None = None) -> list[Word]:
    return [Word(start + i * step, start + i * step + 0.4, t, 0.9, channel) for i, t in enumerate(text.split())]


def test_span_indices_and_timing():
    words = words_of("Tabii. Kimlik numaram üç sıfır iki, dört bir dokuz, sekiz yedi beş, üç iki. Teşekkürler.")
    (span,) = find_pii(words, "tr")
    assert span == PiiSpan("tckn", 3, 13, words[3].start, words[13].end, True, "*******7532")
    assert (span.start_s, span.end_s) == (11.5, 16.9)


def test_redact_words_replaces_span_with_one_timed_token():
    words = words_of("numaram 0532 212 34 56 tamam mı")
    words[2].probability = 0.4
    spans = find_pii(words, "tr")
    out = redact_words(words, spans)
    assert [w.text for w in out] == ["numaram", "[PHONE]", "tamam", "mı"]
    token = out[1]
    assert (token.start, token.end, token.probability) == (words[1].start, words[4].end, 0.4)
    assert out[0] == words[0] and out[0] is not words[0]  # copies
    assert [w.text for w in words][1] == "0532"  # input untouched


def test_redact_words_no_spans_is_a_copy():
    words = words_of("iki yüz elli lira")
    out = redact_words(words, find_pii(words, "tr"))
    assert out == words and all(a is not b for a, b in zip(out, words))


def test_stereo_interleaved_backchannel_is_kept():
    customer = words_of(say_tr(CARD), start=20.0, step=0.5, channel=1)
    agent = [Word(22.1, 22.3, "evet", 0.95, 0), Word(24.1, 24.3, "hı-hı", 0.9, 0)]
    words = sorted(customer + agent, key=lambda w: w.start)
    (span,) = find_pii(words, "tr")
    assert span.kind == "card" and span.checksum_valid
    assert words[span.first_word].channel == 1 and words[span.last_word].channel == 1
    out = redact_words(words, [span])
    assert [(w.text, w.channel) for w in out] == [("[CARD]", 1), ("evet", 0), ("hı-hı", 0)]
    assert out[0].start == 20.0 and out[0].end == customer[-1].end


def test_channels_do_not_join_numbers():
    words = words_of("0532 212", channel=0) + words_of("34 56", start=12.0, channel=1)
    assert find_pii(words, "tr") == []


def test_overlapping_caller_spans_emit_one_token_each():
    words = words_of("a b c d e")
    spans = [PiiSpan("card", 1, 3, 10.5, 11.9, True, "x"), PiiSpan("phone", 2, 4, 11.0, 12.4, True, "y")]
    assert [w.text for w in redact_words(words, spans)] == ["a", "[CARD]", "[PHONE]"]


SAMPLES = Path(__file__).resolve().parent.parent / "sample_audio" / "conversations"


def _sample_pii():
    try:
        import yaml
    except ImportError:  # pragma: no cover
        return []
    out = []
    for path in sorted(SAMPLES.glob("*.yaml")):
        conv = yaml.safe_load(path.read_text(encoding="utf-8"))
        for p in conv.get("pii", []):
            out.append(pytest.param(conv["turns"][p["turn"]]["text"], conv["language"], p["type"], str(p["value"]),
                                    id=f"{path.stem}-{p['type']}"))
    return out or [pytest.param("", "tr", "", "", marks=pytest.mark.skip(reason="no sample conversations"))]


@pytest.mark.parametrize("text, language, kind, value", _sample_pii())
def test_sample_conversation_pii_is_caught(text, language, kind, value):
    out, spans = redact_text(text, language)
    assert [s.kind for s in spans if s.kind not in ("expiry", "dob")] == [kind]  # a date said with it goes too
    assert spans[0].checksum_valid
    tail = value.split("@")[1] if kind == "email" else value[-2:]
    assert spans[0].masked.endswith(tail)
    assert f"[{kind.upper()}]" in out
    for piece in re.findall(r"\w{4,}", value.split("@")[0]):
        assert piece.lower() not in out.lower()
