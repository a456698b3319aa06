"""Rubric schema errors (file, line, field), phrase matching, and scoring arithmetic."""

from pathlib import Path

import pytest

from qa.rubric.engine import CallContext, ItemResult, aggregate, score_call
from qa.rubric.matching import negated, phrase_similarity
from qa.rubric.schema import RubricError, load_rubric, parse_rubric
from qa.rubric.selftest import check_rubric_file, rubric_files
from qa.transcript import Utterance

REPO = Path(__file__).resolve().parent.parent
BROKEN = Path(__file__).parent / "data" / "broken_rubrics"


@pytest.mark.parametrize("path", rubric_files([REPO / "scoring_rubrics"]), ids=lambda p: p.name)
def test_default_rubrics_validate_and_their_cases_pass(path):
    rubric, cases, error = check_rubric_file(path)
    assert error is None
    assert len(cases) >= 4
    assert [c.problems for c in cases if not c.ok] == []


@pytest.mark.parametrize(
    "name, expected",
    [
        ("not_yaml.yaml", ["not_yaml.yaml:5:", "not valid YAML"]),
        ("negative_weight.yaml", ["negative_weight.yaml:11:", "sections.0.items.0.weight", "greater than 0"]),
        ("unknown_check.yaml", ["unknown_check.yaml:11:", "check", "telepathy"]),
        ("duplicate_item.yaml", ["item id 'greet' is used twice"]),
        ("bad_window.yaml", ["bad_window.yaml:13:", "window", "exactly one of first_s, last_s or event"]),
        ("misspelt_field.yaml", ["misspelt_field.yaml:11:", "critcal", "Extra inputs are not permitted"]),
        ("no_sections.yaml", ["no_sections.yaml:5:", "sections", "at least 1 item"]),
    ],
)
def test_broken_rubrics_fail_with_file_line_and_field(name, expected):
    with pytest.raises(RubricError) as err:
        load_rubric(BROKEN / name)
    message = str(err.value)
    for fragment in expected:
        assert fragment in message, message


def test_a_failing_embedded_case_is_reported():
    rubric, cases, error = check_rubric_file(BROKEN / "failing_case.yaml")
    assert error is None and len(cases) == 1 and not cases[0].ok
    assert "greet: expected pass, got fail" in cases[0].problems[0]


@pytest.mark.parametrize(
    "phrase, text, language, at_least, at_most",
    [
        ("bizi aradığınız için teşekkür ederiz", "bizi aradiginiz icin tesekkurler ederiz", "tr", 90, 100),
        ("başka yardımcı olabileceğim bir konu var mı", "Başka yardımcı olabilecek bir konu var mı?", "tr", 88, 100),
        ("hoş geldiniz", "hoşgeldiniz efendim", "tr", 82, 100),
        ("Anadolu Telekom", "anadolu telekom'a hoş geldiniz", "tr", 95, 100),
        ("i'm sorry", "Of course, I'm so sorry for the inconvenience", "en", 90, 100),
        ("başka yardımcı olabileceğim bir konu var mı", "faturanız yarın gelecek", "tr", 0, 60),
        ("thank you for calling", "the car is making a noise", "en", 0, 60),
        # a short utterance inside a longer phrase is not that phrase
        ("are you sure", "Sure.", "en", 0, 60),
        ("beklediğiniz için teşekkürler", "Teşekkürler.", "tr", 0, 60),
        ("hoş geldiniz", "hoşgeldiniz", "tr", 82, 100),
    ],
)
def test_phrase_similarity(phrase, text, language, at_least, at_most):
    sim, _ = phrase_similarity(phrase, text, language)
    assert at_least <= sim <= at_most


@pytest.mark.parametrize(
    "phrase, text, language, expected",
    [
        ("söz veriyorum", "size söz veriyorum", "tr", False),
        ("söz veriyorum", "size söz veremiyorum", "tr", True),
        ("garanti ediyorum", "bunu garanti edemem", "tr", True),
        ("iade edeceğim", "iade etmeyeceğim", "tr", True),
        ("i promise", "i promise you", "en", False),
        ("i promise", "i cannot promise that", "en", True),
    ],
)
def test_negation(phrase, text, language, expected):
    _, span = phrase_similarity(phrase, text, language)
    assert negated(phrase, text, span, language) is expected


RUBRIC = """
id: arith
version: 3
language: en
title: arithmetic
sections:
  - id: a
    title: A
    weight: 1
    items:
      - {id: a1, title: a1, weight: 2, check: {type: phrases, any: ["hello"]}}
      - {id: a2, title: a2, weight: 1, check: {type: phrases, any: ["my name is"]}}
  - id: b
    title: B
    weight: 3
    items:
      - {id: b1, title: b1, weight: 1, applies_when: {direction: inbound}, check: {type: phrases, any: ["account number"]}}
      - {id: b2, title: b2, weight: 1, critical: true, check: {type: phrases, none: ["i promise"]}}
      - {id: b3, title: b3, weight: 1, check: {type: phrases, speaker: customer, window: {last_s: 10}, any: ["thanks"]}}
"""


def utts(*rows):
    return [Utterance(i, role, role, s, e, text, 1.0) for i, (role, s, e, text) in enumerate(rows)]


@pytest.mark.parametrize(
    "rows, direction, outcomes, pct, auto_failed",
    [
        # everything passes
        ([("agent", 0, 2, "hello my name is Bo"), ("agent", 5, 7, "your account number please"),
          ("customer", 55, 58, "thanks a lot")], "inbound", "pass pass pass pass pass", 100.0, False),
        # a1 fails (2 of 3 in A = 33.3%); B all pass -> (1*33.3 + 3*100) / 4
        ([("agent", 0, 2, "my name is Bo"), ("agent", 5, 7, "account number"), ("customer", 55, 58, "thanks")],
         "inbound", "fail pass pass pass pass", 83.3, False),
        # outbound: b1 is N/A and leaves the denominator; b3 fails (customer thanks too early)
        ([("agent", 0, 2, "hello my name is Bo"), ("customer", 20, 22, "thanks")], "outbound",
         "pass pass na pass fail", 62.5, False),
        # critical failure zeroes the call
        ([("agent", 0, 2, "hello my name is Bo"), ("agent", 10, 12, "I promise you a refund"),
          ("customer", 55, 58, "thanks")], None, "pass pass fail fail pass", 0.0, True),
    ],
    ids=["all-pass", "weighted", "na-leaves-denominator", "critical"],
)
def test_scoring_arithmetic(rows, direction, outcomes, pct, auto_failed):
    rubric = parse_rubric(RUBRIC)
    results, score = score_call(rubric, utts(*rows), CallContext(60.0, "en", direction))
    assert " ".join(r.outcome for r in results) == outcomes
    assert score.score_pct == pytest.approx(pct, abs=0.05)
    assert score.auto_failed is auto_failed
    assert score.rubric_version == "3"
    for r in results:
        if r.outcome == "pass" and r.item_id != "b2":
            assert r.evidence_text and r.evidence_start_s is not None and r.similarity >= 82
        if r.outcome == "fail":
            assert r.reason


def test_critical_failure_names_the_reason():
    rubric = parse_rubric(RUBRIC)
    _, score = score_call(rubric, utts(("agent", 10, 12, "I promise you a refund")), CallContext(60.0, "en"))
    assert score.auto_failed and "b2" in score.reason and "i promise" in score.reason


def test_reviewer_override_changes_aggregate_not_auto_rows():
    rubric = parse_rubric(RUBRIC)
    results, score = score_call(rubric, utts(("agent", 0, 2, "my name is Bo")), CallContext(60.0, "en", "inbound"))
    overridden = [
        ItemResult(r.section_id, r.item_id, "pass", r.max_score, r.max_score, r.critical, "reviewer", "override", source="reviewer")
        if r.item_id == "a1" else r
        for r in results
    ]
    assert aggregate(rubric, overridden).score_pct > score.score_pct
    assert [r.outcome for r in results if r.item_id == "a1"] == ["fail"]
