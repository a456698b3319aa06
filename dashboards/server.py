"""The dashboard server: Streamlit's `st.App` with callqa's audio route and file guard.

    callqa dashboard [--db FILE] [--auth none|proxy|oidc] [--host 127.0.0.1] [--port 8501]

(which runs `streamlit run dashboards/server.py`). Pages are `dashboards/app.py`; this module adds
what Streamlit's own server lacks for recordings of customers: an authenticated, role-checked
audio route and a guard on Streamlit's unauthenticated file routes (`dashboards/audio_route.py`).
It refuses to start with `auth = none` or `proxy` unless Streamlit listens on loopback.
"""

from __future__ import annotations

import sys
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent
if str(_REPO) not in sys.path:  # `streamlit run` puts only dashboards/ on the path
    sys.path.insert(0, str(_REPO))

import streamlit as st  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.routing import Route  # noqa: E402
from streamlit import config as st_config  # noqa: E402

from dashboards import audio_route  # noqa: E402
from qa.access.identity import is_loopback  # noqa: E402


def check_listen_address(auth: str, host: str | None) -> None:
    """`none` and `proxy` trust whoever can connect, so only loopback may connect."""
    if auth in ("none", "proxy") and not is_loopback(host):
        raise SystemExit(f"callqa: auth = {auth} needs the dashboard on 127.0.0.1 (it listens on {host or 'every interface'}); "
                         "use auth = oidc, or put a reverse proxy in front (see README, Access)")


check_listen_address(audio_route._settings().auth, st_config.get_option("server.address"))
audio_route.SERVED_BY_CALLQA = True

app = st.App(
    _REPO / "dashboards" / "app.py",
    routes=[Route(audio_route.ROUTE, audio_route.audio_endpoint, methods=["GET"])],
    middleware=[Middleware(audio_route.GuardStreamlitFiles)],
)
