"""HTML for the call page's score strip and scorecard items (rendered with `st.html`; no Streamlit here).

One small HTML block per item is far lighter for the browser than a dozen Streamlit elements, and it
can carry the `data-callqa-seek` buttons the player listens for (`dashboards/player.py`). Every value
from the store goes through `html.escape`. Colours follow the band (green exceeds, blue meets, orange
needs coaching, red only for an auto-fail or a failed item).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from dashboards.call_words import Window
from dashboards.fmt import mmss
from dashboards.player import seek_html

BAND_COLOURS = {"exceeds": "#1e8e3e", "meets": "#1c6dd0", "needs_coaching": "#d9730d"}
FAIL_RED = "#c5221f"
DEFAULT_BANDS = (("exceeds", 90.0), ("meets", 75.0), ("needs_coaching", 0.0))

STYLE = """<style>
.cq-strip { display: flex; gap: 14px; align-items: center; flex-wrap: wrap; margin: 0 0 6px; }
.cq-score { font-size: 2.1rem; font-weight: 700; line-height: 1; }
.cq-pill { border-radius: 999px; padding: 3px 10px; color: #fff; font-weight: 600; font-size: 0.85rem; }
.cq-sub { color: #555; font-size: 0.8rem; }
.cq-sections { display: flex; gap: 6px; flex-wrap: wrap; margin: 4px 0 2px; }
.cq-sec { border: 1px solid; border-radius: 6px; padding: 1px 7px; font-size: 0.78rem; }
.cq-autofail { background: #fce8e6; border-left: 5px solid #c5221f; padding: 6px 10px; border-radius: 6px;
  margin: 6px 0; color: #5f100e; }
.cq-lifted { background: #f1f3f4; border-left: 5px solid #80868b; padding: 6px 10px; border-radius: 6px;
  margin: 6px 0; color: #3c4043; }
.cq-item { border: 1px solid rgba(49, 51, 63, 0.15); border-left: 5px solid #999; border-radius: 8px;
  padding: 6px 10px; margin: 4px 0; }
.cq-item.pass { border-left-color: #1e8e3e; } .cq-item.fail { border-left-color: #c5221f; }
.cq-item.na { border-left-color: #bdc1c6; opacity: 0.85; }
.cq-title { font-weight: 600; } .cq-pts { color: #555; font-weight: 400; margin-left: 6px; }
.cq-badge { border-radius: 6px; padding: 0 6px; font-size: 0.72rem; margin-left: 6px; font-weight: 600; }
.cq-crit { background: #fce8e6; color: #a50e0e; } .cq-rev { background: #f3e8fd; color: #681da8; }
.cq-reason { font-size: 0.88rem; margin: 2px 0; }
.cq-quote { font-style: italic; color: #333; margin: 2px 0 2px 8px; font-size: 0.88rem; }
.cq-coach { background: #e8f0fe; border-radius: 6px; padding: 3px 8px; font-size: 0.85rem; margin-top: 3px; }
.cq-sechead { font-weight: 700; margin: 10px 0 2px; display: flex; justify-content: space-between; }
.callqa-seek-btn { border: 1px solid rgba(49, 51, 63, 0.3); background: #fff; border-radius: 6px;
  padding: 1px 8px; font-size: 0.8rem; cursor: pointer; margin: 2px 4px 2px 0; }
.callqa-seek-btn:hover { border-color: #1c83e1; color: #1c83e1; }
</style>"""
ICONS = {"pass": "&#10003;", "fail": "&#10007;", "na": "&#8211;"}
ICON_COLOURS = {"pass": "#1e8e3e", "fail": "#c5221f", "na": "#80868b"}


def e(text: object) -> str:
    return html.escape("" if text is None else str(text))


def band_for(pct: float | None, bands: Sequence[tuple[str, float]] = DEFAULT_BANDS) -> str | None:
    """The band a percentage falls in, by the rubric's bands (highest minimum first)."""
    if pct is None or pct != pct:
        return None
    for name, low in bands or DEFAULT_BANDS:
        if float(pct) >= low:
            return name
    return None


def colour(band: str | None, auto_failed: bool = False) -> str:
    return FAIL_RED if auto_failed else BAND_COLOURS.get(str(band), "#5f6368")


@dataclass(frozen=True)
class Strip:
    """The top of the scorecard: the score as the reviewer should read it."""

    score_pct: float | None
    band: str | None
    band_text: str
    auto_failed: bool
    score_label: str
    rubric_title: str
    sub: str = ""                                  # "after review · automatic 62.5 %"
    sections: Sequence[tuple[str, float | None, str | None]] = ()   # (title, pct, band)
    auto_fail_html: str = ""                       # the red banner (already built)
    lifted_html: str = ""                          # "the AI auto-failed it; a review lifted it"


def strip_html(s: Strip) -> str:
    score = "–" if s.score_pct is None or s.score_pct != s.score_pct else f"{float(s.score_pct):.1f} %"
    c = colour(s.band, s.auto_failed)
    secs = "".join(
        f'<span class="cq-sec" style="border-color:{colour(b)};color:{colour(b)}">{e(t)} '
        f'{"–" if p is None or p != p else f"{float(p):.0f} %"}</span>' for t, p, b in s.sections)
    return (f'{STYLE}<div class="cq-strip"><span class="cq-sub">{e(s.score_label)}</span>'
            f'<span class="cq-score" style="color:{c}">{score}</span>'
            f'<span class="cq-pill" style="background:{c}">{e(s.band_text)}</span>'
            f'<span class="cq-sub">{e(s.sub)}</span></div>'
            f'<div class="cq-sub">{e(s.rubric_title)}</div><div class="cq-sections">{secs}</div>'
            f'{s.auto_fail_html}{s.lifted_html}')


def auto_fail_html(label: str, because: str, titles: Sequence[tuple[str, str]]) -> str:
    """`titles`: (item title, plain reason) of each critical item that failed."""
    parts = "; ".join(f"<b>{e(t)}</b>: {e(r)}" for t, r in titles) or e(because)
    return f'<div class="cq-autofail" role="alert"><b>{e(label)}</b> — {e(because)}: {parts}</div>'


def lifted_html(text: str) -> str:
    return f'<div class="cq-lifted">{e(text)}</div>'


@dataclass(frozen=True)
class Card:
    item_id: str
    title: str
    outcome: str
    outcome_text: str
    points: str
    critical: bool
    critical_label: str
    reviewed_by: str = ""
    reason: str = ""
    quote: str = ""
    evidence_s: float | None = None
    evidence_label: str = ""
    window: Window | None = None
    window_label: str = ""
    coaching: str = ""
    coaching_label: str = ""


def card_html(c: Card) -> str:
    badges = f'<span class="cq-badge cq-crit">{e(c.critical_label)}</span>' if c.critical else ""
    if c.reviewed_by:
        badges += f'<span class="cq-badge cq-rev">{e(c.reviewed_by)}</span>'
    icon = f'<span style="color:{ICON_COLOURS.get(c.outcome, "#555")}" title="{e(c.outcome_text)}">' \
           f'{ICONS.get(c.outcome, "•")}</span>'
    body = f'<div class="cq-reason">{e(c.reason)}</div>' if c.reason else ""
    if c.outcome != "na" and (c.quote or (c.evidence_s is not None and c.evidence_s == c.evidence_s)):
        play = seek_html(c.evidence_s, f"{c.evidence_label} {mmss(c.evidence_s)}") \
            if c.evidence_s is not None and c.evidence_s == c.evidence_s else ""
        body += f'<div class="cq-quote">{play}{"“" + e(c.quote) + "”" if c.quote else ""}</div>'

    if c.window is not None:
        body += seek_html(c.window.start_s, f"{c.window_label} {mmss(c.window.start_s)}–{mmss(c.window.end_s)}",
                          until_s=c.window.end_s)
    if c.coaching:
        body += f'<div class="cq-coach"><b>{e(c.coaching_label)}:</b> {e(c.coaching)}</div>'
    return (f'<div class="cq-item {e(c.outcome)}" data-item="{e(c.item_id)}"><div class="cq-title">{icon} {e(c.title)}'
            f'<span class="cq-pts">{e(c.points)}</span>{badges}</div>{body}</div>')


def section_head_html(title: str, pct: float | None, band: str | None) -> str:
    value = "–" if pct is None or pct != pct else f"{float(pct):.0f} %"
    return f'<div class="cq-sechead"><span>{e(title)}</span><span style="color:{colour(band)}">{value}</span></div>'
