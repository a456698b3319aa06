"""callqa QA dashboard (Streamlit entry point).

    streamlit run dashboards/app.py -- --db PATH      (or CALLQA_DB=PATH; default callqa.duckdb)

Pages: Calls (filterable list), Call (scorecard, transcript, audio), Agents (coaching view).
The dashboard only reads the DuckDB store through short-lived connections; it never runs
models and never keeps the database open, so the nightly batch can write meanwhile.
"""

from __future__ import annotations

import sys
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent
if str(_REPO) not in sys.path:  # `streamlit run` puts only dashboards/ on the path
    sys.path.insert(0, str(_REPO))

import streamlit as st  # noqa: E402

from dashboards.ui import db_path  # noqa: E402

_HERE = Path(__file__).resolve().parent
PAGES = {
    "calls": st.Page(_HERE / "views" / "calls.py", title="Calls", icon=":material/list:", url_path="calls", default=True),
    "call": st.Page(_HERE / "views" / "call.py", title="Call", icon=":material/call:", url_path="call"),
    "agents": st.Page(_HERE / "views" / "agents.py", title="Agents", icon=":material/groups:", url_path="agents"),
}


def main() -> None:
    st.set_page_config(page_title="callqa", page_icon=":material/headset_mic:", layout="wide")
    page = st.navigation(list(PAGES.values()))
    st.sidebar.caption(f"Database: `{db_path()}`")
    page.run()


main()
