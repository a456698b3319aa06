"""callqa QA dashboard (Streamlit pages; served by `dashboards/server.py`).

    callqa dashboard [--db PATH] [--auth none|proxy|oidc] [--host 127.0.0.1] [--port 8501]

Pages: Review (queue, calls list, call page for scoring, disputes, calibration) and Coaching (Agents: one
agent against the team; Teams: a team's agents side by side; each with the coaching report to download).
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
    "queue": st.Page(_HERE / "views" / "queue.py", title="Review queue", icon=":material/checklist:", url_path="queue"),
    "calls": st.Page(_HERE / "views" / "calls.py", title="Calls", icon=":material/list:", url_path="calls"),
    "call": st.Page(_HERE / "views" / "call.py", title="Call", icon=":material/call:", url_path="call"),
    "disputes": st.Page(_HERE / "views" / "disputes.py", title="Disputes", icon=":material/gavel:", url_path="disputes"),
    "calibration": st.Page(_HERE / "views" / "calibration.py", title="Calibration", icon=":material/balance:",
                           url_path="calibration"),
    "agents": st.Page(_HERE / "views" / "agents.py", title="Agents", icon=":material/person:", url_path="agents"),
    "teams": st.Page(_HERE / "views" / "teams.py", title="Teams", icon=":material/groups:", url_path="teams"),
}
NAVIGATION = {"Review": ["queue", "calls", "call", "disputes", "calibration"], "Coaching": ["agents", "teams"]}


def _may_open(name: str, viewer) -> bool:
    """Reviewers, team leads and admins have a queue and calibration; agents have disputes of their own."""
    if name in ("queue", "calibration"):
        return viewer.can_review
    return True


def _start() -> None:
    """`/`: reviewers start at their queue, everyone else at the calls list (query parameters kept)."""
    viewer = st.session_state[ui.VIEWER_KEY]
    target = PAGES["queue"] if viewer.role == "reviewer" else PAGES["calls"]
    st.switch_page(target, query_params=st.query_params.to_dict())


def main() -> None:
    # a local image: a :material/...: page icon makes the browser fetch it from fonts.gstatic.com
    st.set_page_config(page_title="callqa", page_icon=str(ICON), layout="wide")
    if st.context.url is not None and not auth.served_by_callqa():
        st.error("Start the dashboard with `callqa dashboard` (it adds the sign-in checks for audio and files).",
                 icon=":material/lock:")
        st.stop()
    st.html("<style>[data-testid=stMainBlockContainer] { padding-top: 4rem; padding-bottom: 2rem; }</style>")
    db = ui.db_path()
    viewer = auth.current_viewer(db)
    st.session_state[ui.VIEWER_KEY] = viewer
    shown = [name for name in PAGES if _may_open(name, viewer)]
    # The start page ("/") is not listed: a default page's url_path is ignored, so listing Calls as the
    # default made `/calls` a "Page not found". Every listed page has its own path; "/" sends on.
    start = st.Page(_start, title="Start", url_path="start", default=True)
    # every page is routable (an agent opening /queue gets the page's own "not for your role", not a
    # "Page not found"); the sidebar lists only the viewer's pages, in groups
    page = st.navigation([start, *PAGES.values()], position="hidden")
    with st.sidebar:
        for group, names in NAVIGATION.items():
            names = [n for n in names if n in shown]
            if names:
                st.caption(group)
            for name in names:
                st.page_link(PAGES[name], label=PAGES[name].title, icon=PAGES[name].icon)
    auth.sidebar(viewer)
    if viewer.is_admin:
        st.sidebar.caption(f"Database: `{db}`")
    page.run()


# Streamlit (and AppTest) run this file as `__main__`; a worker process started with "spawn" re-imports
# the parent's main script as `__mp_main__`, and must not draw a page there
if __name__ == "__main__":
    main()
