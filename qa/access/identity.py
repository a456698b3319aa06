"""From a signed-in identity (OIDC claims or a proxy header) to a `Viewer`, one rule for every entry point.

The dashboard's pages (`dashboards/auth.py`) and its audio route (`dashboards/audio_route.py`)
both call `resolve_viewer`, so the role that gates a page is the role that gates the audio.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from qa.access.audit import AuditLog
from qa.access.directory import Directory
from qa.access.model import LOCAL_ADMIN, Viewer

AUTH_MODES = ("none", "proxy", "oidc")
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def is_loopback(host: str | None) -> bool:
    return bool(host) and (host in LOOPBACK or host.startswith("127."))


def split_groups(value: str | Iterable[str] | None) -> list[str]:
    """A groups claim (list) or header (comma- or space-separated) as a list of names."""
    if value is None:
        return []
    if isinstance(value, str):
        return [g for g in value.replace(",", " ").split() if g]
    return [str(g) for g in value]


def resolve_viewer(db: str | Path, auth: str, identities: Iterable[str | None], groups: Iterable[str] = (),
                   agent_id: str | None = None) -> Viewer | None:
    """The viewer for the first identity callqa knows (e-mail before subject), seeding one from `groups`.

    `auth = none` is the local admin (the dashboard only allows it on loopback). None: not allowed in.
    """
    if auth == "none":
        return LOCAL_ADMIN
    names = [i.strip() for i in identities if i and i.strip()]
    if not names:
        return None
    directory = Directory(db)
    for name in names:
        viewer = directory.viewer(name, auth)
        if viewer is not None:
            return viewer
    seeded = directory.seed_from_groups(names[0], split_groups(groups), agent_id)
    if seeded is None:
        return None
    viewer = directory.viewer(seeded.identity, auth)
    if viewer is not None:
        AuditLog(db).record(viewer, "user_seeded", target=seeded.identity, role=seeded.role, groups=sorted(groups))
    return viewer
