"""The dashboard's HTTP side (Starlette, mounted by `dashboards/server.py` through `st.App`):

- `GET /callqa/audio/{call_id}[?original=1]`: a call's recording for the signed-in user, read only
  after their role and scope allow the call, redacted unless they are granted `unmask_audio`;
  no-store, never written to disk, audited (one row per play: a request that starts at byte 0).
- A guard in front of Streamlit's own `/media/` and `/app/static/` routes: Streamlit serves them
  to anyone who knows the URL (no auth check in 1.67); here they need a signed-in callqa user.
  callqa never puts audio there (the player's source is the route above).

Who is asking comes from the same place as on the pages: the `_streamlit_user` cookie that
`st.login` sets (signed with the cookie secret; decoded with Streamlit's own reader), the proxy's
header, or nobody (`auth = none`, loopback only).
"""

from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from qa.access.model import AccessDenied, Viewer

ROUTE = "/callqa/audio/{call_id:path}"
GUARDED_PREFIXES = ("/media/", "/app/static/")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
log = logging.getLogger("callqa.dashboard")


@lru_cache(maxsize=1)
def _settings():
    from qa.config import load_settings

    return load_settings()


def db_path() -> str:
    """The store this server shows (`callqa dashboard` exports CALLQA_DB)."""
    import os

    return os.environ.get("CALLQA_DB") or str(_settings().db)


def oidc_claims(cookies: dict[str, str]) -> dict[str, Any]:
    """The claims in a valid `_streamlit_user` cookie ({} when missing, forged or expired)."""
    from streamlit.web.server.starlette.starlette_websocket import _get_signed_cookie_with_chunks

    raw = _get_signed_cookie_with_chunks(cookies, "_streamlit_user")
    if not raw:
        return {}
    try:
        claims = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return claims if isinstance(claims, dict) and claims.get("is_logged_in") else {}


def request_viewer(request: Request) -> Viewer | None:
    """The callqa viewer behind an HTTP request, or None (not signed in, or not a callqa user)."""
    from qa.access.identity import resolve_viewer, split_groups

    settings = _settings()
    if settings.auth == "none":
        return resolve_viewer(db_path(), "none", [])
    if settings.auth == "proxy":
        return resolve_viewer(db_path(), "proxy", [request.headers.get(settings.proxy_user_header)],
                              split_groups(request.headers.get(settings.proxy_groups_header)))
    claims = oidc_claims(dict(request.cookies))
    if not claims:
        return None
    return resolve_viewer(db_path(), "oidc", [claims.get("email"), claims.get("sub")],
                          split_groups(claims.get(settings.oidc_groups_claim)), claims.get("agent_id"))


def _ranged(request: Request, data: bytes, mime: str) -> Response:
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff"}
    match = _RANGE.match(request.headers.get("range", "").strip())
    if not match:
        return Response(data, media_type=mime, headers=headers)
    first, last = match.groups()
    size = len(data)
    if first == "":  # suffix range: the last N bytes
        start, end = max(0, size - int(last or 0)), size - 1
    else:
        start, end = int(first), min(size - 1, int(last) if last else size - 1)
    if start >= size or start > end:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(data[start:end + 1], status_code=206, media_type=mime, headers=headers)


async def audio_endpoint(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_audio, request)


def _audio(request: Request) -> Response:
    from qa.access.audio import AudioUnavailable, call_audio
    from qa.access.audit import AuditLog
    from qa.access.repository import DuckDBRepository

    call_id = request.path_params["call_id"]
    original = request.query_params.get("original") in ("1", "true")
    viewer = request_viewer(request)
    if viewer is None:
        return PlainTextResponse("sign in first", status_code=401, headers={"Cache-Control": "no-store"})
    db = db_path()
    audit = AuditLog(db)
    first_request = _RANGE.match(request.headers.get("range", "bytes=0-").strip() or "bytes=0-")
    starts_at_zero = first_request is None or first_request.group(1) in ("", "0")
    try:
        clip = call_audio(DuckDBRepository(db, _rubric_dir()), viewer, call_id, original=original)
    except AccessDenied as exc:
        audit.record(viewer, "denied", call_id, "audio", original=original, reason=str(exc))
        log.info("audio denied: %s %s", viewer.identity, call_id)
        return PlainTextResponse("not allowed", status_code=403, headers={"Cache-Control": "no-store"})
    except AudioUnavailable as exc:
        return PlainTextResponse(str(exc), status_code=404, headers={"Cache-Control": "no-store"})
    if starts_at_zero:
        audit.record(viewer, "play_original_audio" if original else "play_audio", call_id,
                     "original" if original else "redacted", covered_s=clip.covered_s)
    return _ranged(request, clip.data, clip.mime)


def _rubric_dir() -> Path:
    from dashboards.rubric_info import default_rubric_dir

    return default_rubric_dir()


class GuardStreamlitFiles:
    """ASGI middleware: Streamlit's file routes (`/media/`, `/app/static/`) only for signed-in callqa users."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("path", "").startswith(GUARDED_PREFIXES):
            from starlette.concurrency import run_in_threadpool

            viewer = await run_in_threadpool(request_viewer, Request(scope))
            if viewer is None:
                response = PlainTextResponse("sign in first", status_code=401, headers={"Cache-Control": "no-store"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
