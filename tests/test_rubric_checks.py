"""Every rubric check type on constructed calls: regex, fuzzy, semantic, metric, sentiment,
event windows, combinators, critical scopes and applies_when conditions."""

import pytest

from qa.rubric.engine import CallContext, score_call
from qa.rubric.schema import RubricError, parse_rubric
from qa.transcript import Utterance

RUBRIC = """
id: checks
version: 1
language: tr
title: every check type
sections:
  - id: talk
    title: Talk
    weight: 1
    items:
      - {id: rx_card, title: no card read back, check: {type: regex, none: ['\\[card\\]'], speaker: agent}}
      - {id: rx_ref, title: reference number given, check: {type: regex, any: ['\\breferans (no|numarası)\\b']}}
      - {id: fz_close, title: closing offer, check: {type: fuzzy, any: ["başka yardımcı olabileceğim bir konu var mı"], threshold: 85}}
      - id: sem_empathy
        title: empathy by meaning
        check: {type: semantic, threshold: 0.9, any: ["yaşadığınız sorun için gerçekten çok üzgünüm"]}
      - id: ph_sem
        title: phrase with semantic fallback
        check: {type: phrases, any: ["size nasıl yardımcı olabilirim"], semantic: 0.9}
  - id: conduct
    title: Conduct
    weight: 1
    items:
      - {id: m_interrupt, title: no interruptions, check: {type: metric, metric: interruptions_by_agent, max: 0}}
      - {id: m_rate, title: speaking rate, check: {type: metric, metric: agent_wpm, min: 90, max: 170}}
      - id: hold_ask
        title: asks before hold
        check: {type: phrases, window: {event: hold, before_s: 30}, any: ["hattan ayrılmayın", "bekletebilir miyim"]}
      - id: hold_thank
        title: thanks after hold
        check: {type: phrases, window: {event: hold, after_s: 30}, any: ["beklediğiniz için teşekkür"]}
      - {id: s_agent, title: agent tone, check: {type: sentiment, speaker: agent, measure: negative_share, max: 0.1}}
      - id: s_end
        title: customer ends calm
        check: {type: sentiment, speaker: customer, window: {last_s: 30}, measure: mean_polarity, min: -0.2}
      - {id: s_traj, title: trajectory, check: {type: sentiment, measure: trajectory, allowed: [improved, steady]}}
  - id: combined
    title: Combined
    weight: 1
    items:
      - id: all_ok
        title: greets and names
        check:
          type: all_of
          checks:
            - {type: phrases, any: ["hoş geldiniz"]}
            - {type: phrases, any: ["benim adım"]}
      - id: any_ok
        title: thanks or goodbye
        check:
          type: any_of
          checks:
            - {type: phrases, any: ["iyi günler"]}
            - {type: regex, any: ['teşekkür(ler| ederim)']}
      - {id: sec_crit, title: no insult, critical: section, check: {type: phrases, none: ["aptal mısınız"]}}
      - {id: needs_hold, title: only with holds, applies_when: {hold_count: {min: 1}}, check: {type: metric, metric: hold_count, max: 2}}
"""


def U(i, role, start, end, text, sentiment=None, polarity=None):
    return Utterance(i, role, role, start, end, text, 1.0, sentiment_label=sentiment,
                     sentiment_score=1.0 if sentiment else None, sentiment_polarity=polarity)


GOOD = [
    U(0, "agent", 0, 5, "Hoş geldiniz, benim adım Ayşe, size nasıl yardımcı olabilirim?", "positive", 0.7),
    U(1, "customer", 6, 10, "Faturam yanlış geldi, çok sinirliyim.", "negative", -0.8),
    U(2, "agent", 11, 16, "Yaşadığınız sorun için gerçekten çok üzgünüm.", "neutral", 0.0),
    U(3, "agent", 50, 54, "Kısa bir süre hattan ayrılmayın lütfen.", "neutral", 0.0),
    U(4, "agent", 70, 74, "Beklediğiniz için teşekkür ederim, referans numarası sizde.", "positive", 0.6),
    U(5, "customer", 75, 80, "Tamam teşekkürler, çok iyi oldu.", "positive", 0.8),
    U(6, "agent", 81, 86, "Başka yardımcı olabileceğim bir konu var mı? İyi günler.", "positive", 0.6),
]
GOOD_FACTS = {"interruptions_by_agent": 0, "agent_wpm": 140.0, "hold_count": 1}
GOOD_EVENTS = {"hold": [(55.0, 68.0)]}


def _score(utterances, facts=None, events=None, sentiment=None):
    ctx = CallContext(90.0, "tr", "inbound", facts=dict(facts or {}), events=events or {}, sentiment=sentiment)
    results, score = score_call(parse_rubric(RUBRIC), utterances, ctx)
    return {r.item_id: r for r in results}, score


def test_everything_passes_with_evidence():
    results, score = _score(GOOD, GOOD_FACTS, GOOD_EVENTS, {"customer_trajectory": "improved"})
    assert {k: r.outcome for k, r in results.items() if r.outcome != "pass"} == {}
    assert score.score_pct == 100.0 and not score.auto_failed
    assert results["hold_ask"].evidence_text.startswith("Kısa bir süre")
    assert results["hold_thank"].evidence_start_s == 70
    assert results["sem_empathy"].method == "semantic" and results["sem_empathy"].similarity >= 90
    assert "interruptions_by_agent = 0" in results["m_interrupt"].reason


@pytest.mark.parametrize(
    "change, item, outcome, reason_part",
    [
        # regex: a masked card number read back by the agent is forbidden
        (lambda u, f, e: u.append(U(9, "agent", 30, 33, "Kart numaranız [CARD] doğru mu?")), "rx_card", "fail", "forbidden pattern"),
        (lambda u, f, e: u.__setitem__(4, U(4, "agent", 70, 74, "Beklediğiniz için teşekkür ederim.")), "rx_ref", "fail", "no pattern matched"),
        # fuzzy: a garbled closing line still passes, an unrelated one does not
        (lambda u, f, e: u.__setitem__(6, U(6, "agent", 81, 86, "baska yardimci olabilecegim bir konu varmi iyi gunler")), "fz_close", "pass", "matched"),
        (lambda u, f, e: u.__setitem__(6, U(6, "agent", 81, 86, "Faturanız yarın gelecek, iyi günler.")), "fz_close", "fail", "closest"),
        # semantic: the same meaning in other words passes; an unrelated sentence fails
        (lambda u, f, e: u.__setitem__(2, U(2, "agent", 11, 16, "Bu sorunu yaşadığınız için çok üzüldüm.")), "sem_empathy", "pass", "means the same"),
        (lambda u, f, e: u.__setitem__(2, U(2, "agent", 11, 16, "Modem ışıklarının rengini söyler misiniz?")), "sem_empathy", "fail", "close to the examples"),
        # metrics: values outside the band fail and say the value; a missing metric is N/A
        (lambda u, f, e: f.update(interruptions_by_agent=3), "m_interrupt", "fail", "= 3, should be at most 0"),
        (lambda u, f, e: f.update(agent_wpm=195.5), "m_rate", "fail", "between 90 and 170"),
        (lambda u, f, e: f.pop("agent_wpm"), "m_rate", "na", "not available"),
        # event windows: no hold -> N/A; a hold without the request -> fail naming the hold time
        (lambda u, f, e: e.clear(), "hold_ask", "na", "no hold in this call"),
        (lambda u, f, e: u.__setitem__(3, U(3, "agent", 50, 54, "Şimdi kontrol ediyorum.")), "hold_ask", "fail", "before the hold at 00:55"),
        (lambda u, f, e: e["hold"].append((20.0, 30.0)), "hold_thank", "fail", "after the hold ending 00:30"),
        # sentiment
        (lambda u, f, e: u.__setitem__(2, U(2, "agent", 11, 16, "Bu sizin suçunuz.", "negative", -0.7)), "s_agent", "fail", "negative_share"),
        (lambda u, f, e: u.__setitem__(5, U(5, "customer", 75, 80, "Hâlâ çok kızgınım.", "negative", -0.9)), "s_end", "fail", "mean_polarity"),
        # combinators
        (lambda u, f, e: u.__setitem__(0, U(0, "agent", 0, 5, "Hoş geldiniz.")), "all_ok", "fail", "benim adım"),
        (lambda u, f, e: u.__setitem__(6, U(6, "agent", 81, 86, "Görüşmek üzere.")) or u.__setitem__(4, U(4, "agent", 70, 74, "Referans numarası sizde.")), "any_ok", "fail", "and"),
        # applies_when with a numeric bound: no hold -> N/A
        (lambda u, f, e: f.update(hold_count=0), "needs_hold", "na", "hold_count is 0"),
    ],
)
def test_check_outcomes(change, item, outcome, reason_part):
    utterances, facts, events = list(GOOD), dict(GOOD_FACTS), {k: list(v) for k, v in GOOD_EVENTS.items()}
    change(utterances, facts, events)
    results, _ = _score(utterances, facts, events, {"customer_trajectory": "improved"})
    r = results[item]
    assert r.outcome == outcome, r.reason
    assert reason_part in r.reason
    if outcome == "fail" and r.method.endswith(("phrases", "regex", "semantic")) and "forbidden" in r.reason:
        assert r.evidence_text is not None


def test_trajectory_condition():
    results, _ = _score(GOOD, GOOD_FACTS, GOOD_EVENTS, {"customer_trajectory": "worsened"})
    assert results["s_traj"].outcome == "fail" and "worsened" in results["s_traj"].reason
    results, _ = _score(GOOD, GOOD_FACTS, GOOD_EVENTS, None)
    assert results["s_traj"].outcome == "na"


def test_section_critical_zeroes_only_its_section():
    utterances = GOOD + [U(9, "agent", 40, 42, "Siz aptal mısınız?")]
    results, score = _score(utterances, GOOD_FACTS, GOOD_EVENTS, {"customer_trajectory": "improved"})
    assert results["sec_crit"].outcome == "fail"
    assert score.sections == {"talk": 100.0, "conduct": 100.0, "combined": 0.0}
    assert score.score_pct == pytest.approx(66.7, abs=0.05)
    assert not score.auto_failed and "section combined zeroed by sec_crit" in score.reason


@pytest.mark.parametrize(
    "check, message",
    [
        ("{type: regex, any: ['(unclosed']}", "not a valid regular expression"),
        ("{type: metric, metric: agent_wpm}", "give min, max or both"),
        ("{type: metric, metric: agent_wpm, min: 5, max: 1}", "min 5.0 is above max 1.0"),
        ("{type: phrases, any: [a], window: {event: hold}}", "exactly one of before_s or after_s"),
        ("{type: phrases, any: [a], window: {first_s: 5, before_s: 3}}", "only go with an event"),
        ("{type: sentiment, measure: trajectory}", "needs `allowed`"),
        ("{type: sentiment, measure: mean_polarity}", "needs min, max or both"),
        ("{type: all_of, checks: [{type: phrases, any: [a]}]}", "at least 2 items"),
        ("{type: semantic, threshold: 0.9}", "example sentences"),
    ],
)
def test_invalid_checks_are_named(check, message):
    text = f"""
id: bad
version: 1
language: en
title: t
sections:
  - id: s
    title: S
    items:
      - id: i
        title: I
        check: {check}
"""
    with pytest.raises(RubricError) as err:
        parse_rubric(text, "bad.yaml")
    assert "bad.yaml:12:" in str(err.value) and message in str(err.value), str(err.value)
