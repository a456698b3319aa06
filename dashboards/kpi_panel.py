"""The contact-centre KPIs on the Coaching page's agent and team views (the report's own figures).

`render(report)` draws `report.kpis` (made by `qa.kpi.report.section` inside
`qa.coaching.generate.build`, so the page and the report show the same numbers): FCR, AHT, hold
and the satisfaction estimate as metrics with the difference to the team, then every KPI against
the team and the previous period, a team's agents side by side, and how the estimate was made.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from qa.coaching.labels import labels, number, versus_team


def render(report) -> None:
    kpis = getattr(report, "kpis", None)
    if not kpis:
        return
    b, K, lang = kpis["block"], kpis["L"], report.language
    s, t, p = b.subject, b.team, b.previous
    st.markdown(f"**{K['title']}**")
    st.caption(f"{K['period_note']} {b.timezone} · {K['as_of']} {b.as_of:%Y-%m-%d %H:%M} UTC · {K['fcr_note']}")
    cols = st.columns(4)
    for col, (key, field, digits, lower_is_better) in zip(cols, (
            ("fcr", "fcr_pct", 1, False), ("aht", "aht_s", 1, True), ("hold", "hold_s", 1, True),
            ("estimate", "estimate_mean", 2, False))):
        col.metric(K[key], number(getattr(s, field), lang, digits),
                   versus_team(getattr(s, field), getattr(t, field) if t else None, lang, digits),
                   delta_color="inverse" if lower_is_better else "normal")
    words = labels(lang)
    head = [report.subject_name or report.subject_id] + ([words["team_avg"]] if t else []) + [
        f"{words['previous']} ({b.prev_since} – {b.prev_until})"]
    rows = []
    for _id, label, field, digits in kpis["rows"]:
        values = [s] + ([t] if t else []) + [p]
        rows.append([K[label], *[number(getattr(v, field), lang, digits) for v in values]])
        if field == "fcr_pct":
            rows.append([K["first_contacts"], *[f"{v.first_contacts} ({v.resolved} / {v.not_resolved} / {v.open})"
                                                for v in values]])
    st.dataframe(pd.DataFrame(rows, columns=[K["kpi"], *head]), hide_index=True, key="kpi_table",
                 height=35 * (len(rows) + 1) + 3)  # every KPI visible, no inner scrolling
    if b.agents:
        st.dataframe(pd.DataFrame([{K["agent"]: f"{a['name'] or a['agent_id']} ({a['agent_id']})",
                                    K["fcr"]: number(a["fcr_pct"], lang), K["aht"]: number(a["aht_s"], lang),
                                    K["hold"]: number(a["hold_s"], lang),
                                    K["latency"]: number(a["latency_mean_s"], lang, 2),
                                    K["long_wait"]: number(a["long_wait_pct"], lang),
                                    K["estimate"]: number(a["estimate_mean"], lang, 2)} for a in b.agents]),
                     hide_index=True, key="kpi_agents")
    a = s.agreement
    agree = (K["agreement_text"].format(n=a.n, mae=number(a.mae, lang, 2), rho=number(a.spearman, lang, 2),
                                        within=number(a.within_one_pct, lang, 1)) if a.n else K["no_survey"])
    st.caption(f"{K['method']}: {b.method}. {K['agreement']}: {agree}.")
    if s.pending:
        st.warning(f"{K['pending']}: {s.pending}")
