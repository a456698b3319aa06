"""Who is looking at the dashboard: the one `current_viewer()` seam every page calls.

- `auth = oidc`: `st.login()` against the site's OpenID Connect provider; the identity is the
  ID token's e-mail (else subject), the role comes from callqa's users table.
- `auth = proxy`: the user name in the header the reverse proxy sets (`proxy_user_header`).
- `auth = none`: no login; only allowed on 127.0.0.1, said in a banner, everyone is the local admin.

An identity callqa does not know sees a "no access" page (and it is audited), never a call.
"""

from __future__ import annotations

import streamlit as st

from dashboards import audio_route
from qa.access.audit import AuditLog
from qa.access.identity import resolve_viewer, split_groups
from qa.access.model import Viewer

SIGNED_IN_KEY = "callqa_signed_in"


def settings():
    from qa.config import load_settings

    return load_settings()


def _claims() -> dict:
    user = st.user
    return user.to_dict() if hasattr(user, "to_dict") else dict(user)


def current_viewer(db: str) -> Viewer:
    """The signed-in viewer; shows the sign-in (or no-access) page and stops the script otherwise."""
    cfg = settings()
    if cfg.auth == "none":
        viewer = resolve_viewer(db, "none", [])
    elif cfg.auth == "proxy":
        headers = st.context.headers
        identity = headers.get(cfg.proxy_user_header)
        if not identity:
            st.error(f"No user in the `{cfg.proxy_user_header}` header: open the dashboard through the site's proxy.",
                     icon=":material/lock:")
            st.stop()
        viewer = resolve_viewer(db, "proxy", [identity], split_groups(headers.get(cfg.proxy_groups_header)))
    else:
        if not st.user.is_logged_in:
            st.title("callqa")
            st.write("Call recordings and scores hold personal data: sign in with your organisation's account.")
            st.button("Sign in", icon=":material/login:", on_click=st.login, type="primary")
            st.stop()
        claims = _claims()
        viewer = resolve_viewer(db, "oidc", [claims.get("email"), claims.get("sub")],
                                split_groups(claims.get(cfg.oidc_groups_claim)), claims.get("agent_id"))
    if viewer is None:
        _no_access(db, cfg.auth)
    if not st.session_state.get(SIGNED_IN_KEY):
        if cfg.auth != "none":
            AuditLog(db).record(viewer, "sign_in")
        st.session_state[SIGNED_IN_KEY] = viewer.identity
    return viewer


def _no_access(db: str, auth: str) -> None:
    claims = _claims() if auth == "oidc" else {}
    identity = claims.get("email") or claims.get("sub") or st.context.headers.get(settings().proxy_user_header) or "?"
    if not st.session_state.get("callqa_denied_logged"):
        AuditLog(db).record(Viewer(str(identity), "none", auth=auth), "denied", target="dashboard")
        st.session_state["callqa_denied_logged"] = True
    st.title("No access")
    st.warning(f"`{identity}` has no callqa role. An administrator can add one: "
               f"`callqa users add {identity} --role agent --agent-id ...`", icon=":material/lock:")
    if auth == "oidc":
        st.button("Sign out", on_click=st.logout)
    st.stop()


def sidebar(viewer: Viewer) -> None:
    """Who is signed in (and a sign-out button), or the no-login banner."""
    cfg = settings()
    if cfg.auth == "none":
        st.sidebar.warning("No login (auth = none): this dashboard listens on 127.0.0.1 only, and everyone on "
                           "this machine sees every call as admin.", icon=":material/lock_open:")
        return
    scope = "all calls" if viewer.sees_everything else ("own calls" if viewer.role == "agent" else "scoped calls")
    st.sidebar.caption(f":material/person: **{viewer.name}** · {viewer.role.replace('_', ' ')} · {scope}")
    if cfg.auth == "oidc":
        st.sidebar.button("Sign out", icon=":material/logout:", on_click=st.logout, key="callqa_sign_out")


def served_by_callqa() -> bool:
    """False when someone ran `streamlit run dashboards/app.py` by hand (no audio route, no file guard)."""
    return bool(getattr(audio_route, "SERVED_BY_CALLQA", False))
