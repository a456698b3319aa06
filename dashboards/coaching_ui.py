"""The coaching pages' parts: pickers and filters, the cached report, one function per section, the
moment player and the download buttons. `views/agents.py` (one agent) and `views/teams.py` (one team)
are these parts in order; a new section is a new function added to a page's list.

The figures are the coaching report's (`qa.coaching.generate.build_for`, through the scoped data-access
layer, reviews applied); the charts are the report's charts as Vega-Lite specs (`dashboards/coaching_charts.py`:
drawn by the browser from Streamlit's own bundle, nothing fetched from the network). Who may see a
subject is checked on every run against the access file as it is (`resolve_subject`, its answer cached
until that file changes; a refusal is never cached and is audited each time); the figures are cached per
viewer, subject, period, filters and store version (`DuckDBRepository.version`), so a write to the
store or the reviews shows at once and a repeated view costs no query. The download buttons make
the report only when asked (`st.fragment`: the rest of the page does not re-run).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboards import coaching_charts, kpi_panel, ui
from dashboards.fmt import md_escape, mmss
from qa.access.coaching import Filters, Subject, all_teams, bounds, narrowed, resolve_subject
from qa.access.directory import Directory, access_path
from qa.access.model import AccessDenied, Viewer
from qa.access.repository import DuckDBRepository, Period
from qa.coaching.generate import build_for, generate
from qa.coaching.labels import labels, number, signed, versus_team
from qa.coaching.report import CoachingReport
from qa.config import display_timezone
from qa.store import file_versions

MIME = {"html": "text/html", "pdf": "application/pdf", "csv": "text/csv"}
PLAY_KEY = "coach_play"
ALL = "__all__"


@dataclass
class View:
    """What a page shows: the report, its charts, and the words in the rubric's language."""

    kind: str
    subject: Subject
    since: date
    until: date
    filters: Filters
    tz: str
    report: CoachingReport
    charts: dict[str, dict | None]  # Vega-Lite specs

    @property
    def words(self) -> dict[str, str]:
        return labels(self.report.language)

    @property
    def lang(self) -> str:
        return self.report.language


def repo(db: str) -> DuckDBRepository:
    return DuckDBRepository(db, ui.rubric_dir())


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _coachable(db: str, who: Viewer, version: tuple) -> pd.DataFrame:
    return repo(db).coachable_agents(who)


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _options(db: str, who: Viewer, agents: tuple[str, ...], since: date, until: date, tz: str,
             version: tuple) -> pd.DataFrame:
    start, end = bounds(since, until, tz)
    scoped = replace(who, scope=narrowed(who.scope, agents))
    return repo(db).period_options(scoped, Period(agents, start, end, tz=tz))


@st.cache_data(ttl=600, max_entries=32, show_spinner="Computing the figures…")
def _report(db: str, who: Viewer, subject: Subject, since: date, until: date, filters: Filters, tz: str,
            rubrics: str, version: tuple) -> tuple[CoachingReport, dict[str, dict | None]]:
    report, _ = build_for(db, who, subject, since, until, rubric_dir=rubrics, tz=tz, filters=filters)
    return report, coaching_charts.all_specs(report, labels(report.language))


def access_version(db: str) -> tuple:
    """Changes whenever the access file (users, teams, audit) is written: the key of what is cached from it."""
    return file_versions(access_path(db))


@st.cache_data(ttl=600, max_entries=256, show_spinner=False)
def _teams_of_viewer(db: str, who: Viewer, version: tuple) -> list[str]:
    if who.role == "team_lead":
        user = Directory(db).get(who.identity)
        return list(user.teams) if user else []
    return all_teams(db) if who.sees_everything else []


def teams_of_viewer(db: str, who: Viewer) -> list[str]:
    """The teams whose page the viewer may open: a team lead's own, every team for admins and all-call reviewers
    (read again whenever the access file changes)."""
    return _teams_of_viewer(db, who, access_version(db))


@st.cache_data(ttl=600, max_entries=256, show_spinner=False)
def _subject(db: str, who: Viewer, kind: str, subject_id: str, version: tuple) -> Subject:
    # a refusal raises (never cached: it is checked and audited again on every run)
    return resolve_subject(db, who, subject_id if kind == "agent" else None, subject_id if kind == "team" else None)


def may_coach(who: Viewer) -> bool:
    """Coaching pages cover whole agents and teams: an agent (self), a team lead (their teams), an admin or a
    reviewer of every call. A reviewer limited to queues sees parts of agents' work, so no coaching figures."""
    return who.role in ("agent", "team_lead") or who.scope.everything


NO_COACHING = ("Coaching figures cover whole agents and teams; a reviewer limited to queues reviews calls on the "
               "Calls page instead.")


def coachable(db: str) -> pd.DataFrame:
    return _coachable(db, ui.viewer(), repo(db).version())


def default_period(known: pd.DataFrame) -> tuple[date, date]:
    """The 28 days up to the latest visible call (or today), in the display time zone."""
    latest = pd.to_datetime(known["last_call"], utc=True).max() if len(known) else None
    tz = display_timezone()
    end = latest.tz_convert(tz).date() if latest is not None and latest == latest else date.today()
    return end - timedelta(days=27), end


def pick_period(known: pd.DataFrame, container) -> tuple[date, date] | None:
    tz = display_timezone()
    picked = container.date_input(f"Period (days in {tz})", default_period(known), key="coach_period")
    if not isinstance(picked, (tuple, list)) or len(picked) != 2:
        st.caption("Pick the last day of the period.")
        return None
    return picked[0], picked[1]


def pick_filters(db: str, subject: Subject, since: date, until: date) -> Filters:
    """Rubric (one at a time: Turkish and English items never mix), queue and language of the period's calls."""
    tz = display_timezone()
    opts = _options(db, ui.viewer(), subject.agents, since, until, tz, repo(db).version())
    if opts.empty:
        return Filters()
    per_rubric = opts.groupby("rubric_id")["calls"].sum().sort_values(ascending=False)
    c1, c2, c3 = st.columns(3)
    # keys per subject: a keyed select box keeps its option labels (with their counts) across subjects
    rubric = c1.selectbox("Rubric", list(per_rubric.index), key=f"coach_rubric_{subject.kind}_{subject.id}",
                          format_func=lambda r: f"{r} ({per_rubric[r]} calls)",
                          help="One rubric at a time, so items of rubrics in different languages never mix.")
    sel = opts[opts["rubric_id"] == rubric]
    queues = sorted({str(q) for q in sel["queue"].dropna()})
    langs = sorted({str(q) for q in sel["language"].dropna()})
    queue = c2.selectbox("Queue", [ALL, *queues], key=f"coach_queue_{subject.kind}_{subject.id}",
                         format_func=lambda q: "All queues" if q == ALL else q)
    lang = c3.selectbox("Language", [ALL, *langs], key=f"coach_language_{subject.kind}_{subject.id}",
                        format_func=lambda q: "All languages" if q == ALL else q)
    return Filters(rubric, None if queue == ALL else queue, None if lang == ALL else lang)


def load(db: str, kind: str, subject_id: str, since: date, until: date, filters_for: Callable[[Subject], Filters]
         ) -> View | None:
    """The subject (access checked now, audited when refused) and its cached figures; None when refused."""
    who = ui.viewer()
    try:
        subject = _subject(db, who, kind, subject_id, access_version(db))
    except AccessDenied as exc:
        st.error(f"Not yours to see: {exc}", icon=":material/lock:")
        return None
    filters = filters_for(subject)
    tz = display_timezone()
    report, charts = _report(db, who, subject, since, until, filters, tz, ui.rubric_dir(), repo(db).version())
    return View(kind, subject, since, until, filters, tz, report, charts)


# --- sections ------------------------------------------------------------------------------------
def _table(rows: list[dict], columns: dict[str, str], lang: str, digits: dict[str, int] | None = None,
           key: str | None = None) -> None:
    df = pd.DataFrame(rows)
    if df.empty:
        return
    digits = {c: d for c, d in (digits or {}).items() if c in columns and c in df}
    for col, d in digits.items():
        df[col] = [None if v is None or v != v else round(float(v), d) for v in df[col]]
    config = {columns[c]: st.column_config.NumberColumn(format=f"%.{d}f") for c, d in digits.items()}
    st.dataframe(df[list(columns)].rename(columns=columns), hide_index=True, column_config=config, key=key)


def _text_table(rows: list[dict], columns: dict[str, str], lang: str, digits: dict[str, int] | None = None) -> None:
    """A table to read (not sort): numbers with the rubric language's decimal mark, as in the report."""
    df = pd.DataFrame(rows)
    if df.empty:
        return
    for col, d in (digits or {}).items():
        if col in df:
            df[col] = [number(x, lang, d) for x in df[col]]
    st.table(df[list(columns)].rename(columns=columns), hide_index=True)  # static HTML: light in the browser


def header(v: View) -> bool:
    """The caption and headline figures against the team; False when the period has no scored calls."""
    r, w, s = v.report, v.words, v.report.summary
    narrowed_to = "".join(f" · {w[k]} {val}" for k, val in r.filters.items())
    st.caption(f"{r.rubric_title} ({r.rubric_id}) · {v.since} – {v.until} ({w['days_in']} {v.tz}){narrowed_to} · "
               f"{w['reviewed_scores']}")
    if r.other_rubrics:
        st.caption(w["other_rubrics"] + " " + ", ".join(f"{k} ({n})" for k, n in r.other_rubrics.items()))
    if not s["calls"]:
        st.info(w["no_calls"])
        return False
    m = st.columns(4)
    m[0].metric(w["avg_score"], number(s["avg_score"], v.lang), versus_team(s["avg_score"], s["team_avg"], v.lang))
    m[1].metric(w["pass_rate"], number(s["pass_rate"], v.lang), versus_team(s["pass_rate"], s["team_pass_rate"], v.lang))
    m[2].metric(w["calls"], s["calls"])
    m[3].metric(w["auto_failed"], s["auto_failed"])
    return True


def changes(v: View) -> None:
    """What changed since the previous period of the same length: the headline figures then and now, and the
    items whose pass rate moved most."""
    r, w, s = v.report, v.words, v.report.summary
    st.markdown(f"**{w['what_changed']}**: {w['previous'].lower()} {s['prev_since']} – {s['prev_until']}, "
                f"{w['this_period'].lower()} {v.since} – {v.until}")
    change = lambda a, b: "–" if a is None or b is None else signed(a - b, v.lang)  # noqa: E731
    rows = [(w["calls"], s["prev_calls"], s["calls"], f"{s['calls'] - s['prev_calls']:+d}"),
            (w["avg_score"], number(s["prev_avg"], v.lang), number(s["avg_score"], v.lang),
             change(s["avg_score"], s["prev_avg"])),
            (w["pass_rate"], number(s["prev_pass_rate"], v.lang), number(s["pass_rate"], v.lang),
             change(s["pass_rate"], s["prev_pass_rate"])),
            (w["auto_failed"], s["prev_auto_failed"], s["auto_failed"], f"{s['auto_failed'] - s['prev_auto_failed']:+d}")]
    moved = [i for i in r.items if i["pass_rate"] is not None and i["prev_pass_rate"] is not None]
    moved.sort(key=lambda i: (-abs(i["pass_rate"] - i["prev_pass_rate"]), i["title"]))
    c1, c2 = st.columns(2, gap="large")
    c1.table(pd.DataFrame([[str(c) for c in row] for row in rows],
                          columns=["", w["previous"], w["this_period"], "±"]), hide_index=True)
    if moved:
        c2.table(pd.DataFrame([[i["title"], number(i["prev_pass_rate"], v.lang), number(i["pass_rate"], v.lang),
                                signed(i['pass_rate'] - i['prev_pass_rate'], v.lang)] for i in moved[:5]],
                              columns=[w["item"], w["previous"], w["this_period"], "±"]), hide_index=True)


def chart(spec: dict | None) -> None:
    """A Vega-Lite chart; a fixed pixel height is Streamlit's to set (in the spec it would squash the plot)."""
    if spec:
        spec = dict(spec)
        height = spec.pop("height") if isinstance(spec.get("height"), int) else "content"
        st.vega_lite_chart(spec=spec, width="content" if "facet" in spec else "stretch", height=height)


def trends(v: View) -> None:
    c1, c2 = st.columns(2, gap="large")
    with c1:
        chart(v.charts["trend"])
        chart(v.charts["dist"])
    with c2:
        chart(v.charts["sections"])
        if v.kind == "team":
            chart(v.charts["autofails"])


def items(v: View) -> None:
    """Sections and items against the team: tables, to scan (the report adds a bar chart per item)."""
    w = v.words
    st.markdown(f"**{w['sections']}**")
    cols = {"title": w["section"], "avg": w["avg_score"]} | ({"team_avg": w["team_avg"]} if v.report.has_team else {})
    _text_table(v.report.sections, cols, v.lang, {"avg": 1, "team_avg": 1})
    st.markdown(f"**{w['items_title']}** (click a header to sort)")
    cols = {"title": w["item"], "section": w["section"], "applicable": w["applicable"], "failed": w["failed"],
            "pass_rate": w["pass_rate"]}
    if v.report.has_team:
        cols["team_pass_rate"] = w["team_avg"]
    cols["prev_pass_rate"] = w["previous"]
    _table(v.report.items, cols, v.lang, {"pass_rate": 1, "team_pass_rate": 1, "prev_pass_rate": 1},
           key="coach_items")


def agents(v: View) -> None:
    """A team's agents side by side (sortable: click a column header)."""
    if not v.report.agents:
        return
    w = v.words
    st.markdown(f"**{w['agents']}** (click a header to sort)")
    _table(v.report.agents, {"agent_id": "agent id", "name": w["agent"], "calls": w["calls"], "avg": w["avg_score"],
                             "pass_rate": w["pass_rate"], "auto_failed": w["auto_failed"]}, v.lang,
           {"avg": 1, "pass_rate": 1}, key="coach_agents")


def _play(moment: str, call_id: str, seconds: float) -> None:
    st.session_state[PLAY_KEY] = {"moment": moment, "call_id": call_id, "t": max(0, int(seconds))}


@st.fragment
def weakest(v: View) -> None:
    """The three weakest items, each with example moments: quote and time, and a play button that plays the
    moment here (callqa's authorised audio route, redacted; a play re-runs only this part)."""
    w = v.words
    st.markdown(f"**{w['weakest']}**")
    if not v.report.weakest:
        st.success("No failed items in this period.", icon=":material/celebration:")
    playing = st.session_state.get(PLAY_KEY) or {}
    for n, item in enumerate(v.report.weakest):
        team = f" · {w['team_avg']} {number(item['team_pass_rate'], v.lang)} %" if v.report.has_team else ""
        st.markdown(f"{n + 1}. **{md_escape(item['title'])}**: {number(item['pass_rate'], v.lang)} % "
                    f"({item['failed']} {w['failed'].lower()}){team}")
        if item["coaching"]:
            st.caption(f":material/lightbulb: {md_escape(item['coaching'])}")
        for k, mo in enumerate(item["moments"]):
            left, right = st.columns([5, 1], vertical_alignment="center")
            when = f"{mo['started_at']:%Y-%m-%d %H:%M}" if mo["started_at"] is not None else "–"
            quote = f" · “{md_escape(mo['quote'])}”" if mo["quote"] else f" · _{w['no_moment']}_"
            at = mmss(mo["at_s"]) if mo["at_s"] is not None else "–"
            left.markdown(f"`{md_escape(mo['call_id'])}` · {when} · {at}{quote}")
            right.button(f"Play {at}" if mo["at_s"] is not None else "Play", key=f"coach_play_{n}_{k}",
                         icon=":material/play_arrow:", on_click=_play,
                         args=(f"{n}_{k}", str(mo["call_id"]), float(mo["at_s"] or 0.0)))
            if playing.get("moment") == f"{n}_{k}" and playing.get("call_id") == mo["call_id"]:
                t = int(playing["t"])
                st.audio(f"{ui.audio_url(str(mo['call_id']))}#t={t}", format="audio/wav", start_time=t, autoplay=True)
                st.caption(f"Playing {mo['call_id']} from {mmss(t)} (personal data toned out).")


def profiles(v: View) -> None:
    w = v.words
    st.markdown(f"**{w['profiles']}**")
    cols = {"profile": w["profile"], "calls": w["calls"], "avg": w["avg_score"]}
    if v.report.has_team:
        cols["team_avg"] = w["team_avg"]
    cols["strategy"] = w["strategy"]
    if not v.report.profiles:
        st.caption(w["none"])
    _text_table(v.report.profiles, cols, v.lang, {"avg": 1, "team_avg": 1})


def talk(v: View) -> None:
    w = v.words
    st.markdown(f"**{w['talk']}**")
    rows = [{**r, "name": w[r["name"]]} for r in v.report.metrics]
    cols = {"name": w["metric"], "avg": v.report.subject_name or v.report.subject_id}
    if v.report.has_team:
        cols["team_avg"] = w["team_avg"]
    _text_table(rows, cols, v.lang, {"avg": 2, "team_avg": 2})


def comments(v: View) -> None:
    if v.report.comments:
        w = v.words
        st.markdown(f"**{w['comments']}**")
        _text_table(v.report.comments, {"call_id": w["call"], "item": w["item"], "reviewer": w["reviewer"],
                                        "comment": w["comment"]}, v.lang)


def profiles_and_talk(v: View) -> None:
    c1, c2 = st.columns(2, gap="large")
    with c1:
        profiles(v)
    with c2:
        talk(v)


@st.fragment
def downloads(v: View) -> None:
    """Prepare / download the same report as `callqa report` (audited); made only when asked."""
    db, who = ui.db_path(), ui.viewer()
    cols = st.columns(3)
    for col, fmt in zip(cols, ("pdf", "html", "csv")):
        with col:
            key = f"coach_dl_{fmt}"
            data_key = f"{key}_data_{v.kind}_{v.subject.id}_{v.since}_{v.until}_{v.filters}"
            if st.button(f"Prepare {fmt.upper()}", key=key + "_make", icon=":material/description:"):
                with tempfile.TemporaryDirectory() as work:
                    name = f"{v.kind}-{v.subject.id}_{v.since}_{v.until}.{fmt}"
                    done = generate(db, who, fmt, Path(work) / name, since=v.since, until=v.until,
                                    rubric_dir=ui.rubric_dir(), tz=v.tz, filters=v.filters,
                                    **{v.kind: v.subject.id})
                    st.session_state[data_key] = (name, done.path.read_bytes())
            if data_key in st.session_state:
                name, payload = st.session_state[data_key]
                st.download_button(f"Download {name}", payload, file_name=name, mime=MIME[fmt], key=key)


def kpis(v: View) -> None:
    """Contact-centre KPIs (FCR, AHT, hold, satisfaction estimate): the report's own figures."""
    kpi_panel.render(v.report)


AGENT_SECTIONS: list[Callable[[View], None]] = [changes, kpis, trends, items, weakest, profiles_and_talk, comments]
TEAM_SECTIONS: list[Callable[[View], None]] = [changes, kpis, agents, trends, items, weakest, profiles_and_talk, comments]


def show(v: View, sections: list[Callable[[View], None]]) -> None:
    if not header(v):
        return
    downloads(v)
    for section in sections:
        section(v)
