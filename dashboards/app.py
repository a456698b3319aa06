"""callqa QA dashboard (Streamlit pages; served by `dashboards/server.py`).

    callqa dashboard [--db PATH] [--auth none|proxy|oidc] [--host 127.0.0.1] [--port 8501]

Pages: Calls (filterable list), Call (scorecard, transcript, audio); Coaching: Agents (one agent against
the team) and Teams (a team's agents side by side), with the coaching report to download.
Before any page runs, the viewer is resolved (`dashboards/auth.py`: sign-in, role, scope);
every read then goes through the scoped data-access layer (`qa.access`). The dashboard only
reads the store through short-lived connections; it never runs models and never keeps the
database open, so the nightly batch can write meanwhile. Nothing is fetched from the network:
the page icon is a file in `dashboards/assets/`.
"""

from __future__ import annotations

import sys
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent
if str(_REPO) not in sys.path:  # `streamlit run` puts only dashboards/ on the path
    sys.path.insert(0, str(_REPO))

import streamlit as st  # noqa: E402

from dashboards import auth, ui  # noqa: E402

_HERE = Path(__file__).resolve().parent
ICON = _HERE / "assets" / "favicon.png"
PAGES = {
    "calls": st.Page(_HERE / "views" / "calls.py", title="Calls", icon=":material/list:", url_path="calls", default=True),
    "call": st.Page(_HERE / "views" / "call.py", title="Call", icon=":material/call:", url_path="call"),
    "agents": st.Page(_HERE / "views" / "agents.py", title="Agents", icon=":material/person:", url_path="agents"),
    "teams": st.Page(_HERE / "views" / "teams.py", title="Teams", icon=":material/groups:", url_path="teams"),
}
NAVIGATION = {"Calls": ["calls", "call"], "Coaching": ["agents", "teams"]}


def main() -> None:
    # a local image: a :material/...: page icon makes the browser fetch it from fonts.gstatic.com
    st.set_page_config(page_title="callqa", page_icon=str(ICON), layout="wide")
    if st.context.url is not None and not auth.served_by_callqa():
        st.error("Start the dashboard with `callqa dashboard` (it adds the sign-in checks for audio and files).",
                 icon=":material/lock:")
        st.stop()
    db = ui.db_path()
    viewer = auth.current_viewer(db)
    st.session_state[ui.VIEWER_KEY] = viewer
    page = st.navigation({group: [PAGES[k] for k in keys] for group, keys in NAVIGATION.items()})
    auth.sidebar(viewer)
    if viewer.is_admin:
        st.sidebar.caption(f"Database: `{db}`")
    page.run()


main()
