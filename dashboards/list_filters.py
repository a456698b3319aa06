"""The Calls list's filters as URL query parameters: shareable, and kept while a reviewer opens calls.

`ListFilters.from_params(st.query_params.to_dict())` reads them, `to_params()` writes only what is set
(so a clean URL means no filter). The Call page keeps the same parameters in its URL, so "back to
the list" and next/previous call follow the list the reviewer came from. Searching and the filters
that need the review data (failed item, queue status, reviewed state, profile, sentiment trend) go
to the repository's `find_calls` (`qa.access.query.CallQuery`); nothing typed reaches SQL there.
No Streamlit here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any

LISTS = ("queue", "direction", "profile", "trend", "language", "band")
TEXTS = ("q", "agent", "item", "reviewed", "status")
# URL name -> field name
URL = {"q": "q", "agent": "agent", "item": "item", "queue": "queue", "dir": "direction", "reviewed": "reviewed",
       "status": "status", "roles": "roles_uncertain", "profile": "profile", "trend": "trend", "lang": "language",
       "band": "band", "from": "date_from", "to": "date_to", "page": "page"}
REVIEWED = ("reviewed", "unreviewed", "signed_off", "disputed")
REVIEW_STATUS = ("to_review", "in_review", "done", "queued")
TRENDS = ("improved", "steady", "worsened")
DIRECTIONS = ("inbound", "outbound")


@dataclass(frozen=True)
class ListFilters:
    """What the Calls list is narrowed to; empty values filter nothing."""

    q: str = ""                       # words said in the call (Turkish-folded full-text search)
    agent: str = ""                   # agent name or id (folded substring)
    item: str = ""                    # failed item id
    queue: tuple[str, ...] = ()
    direction: tuple[str, ...] = ()
    reviewed: str = ""                # reviewed | unreviewed | signed_off | disputed
    status: str = ""                  # review-queue status
    roles_uncertain: bool = False
    profile: tuple[str, ...] = ()
    trend: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    band: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "ListFilters":
        values: dict[str, Any] = {}
        for url, name in URL.items():
            raw = params.get(url)
            if raw is None or raw == "" or raw == []:
                continue
            if name in LISTS:
                items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
                values[name] = tuple(sorted({str(v).strip() for v in items if str(v).strip()}))
            elif name == "roles_uncertain":
                values[name] = str(raw).lower() in ("1", "true", "yes")
            elif name in ("date_from", "date_to"):
                try:
                    values[name] = date.fromisoformat(str(raw if not isinstance(raw, list) else raw[0]))
                except ValueError:
                    continue
            elif name == "page":
                try:
                    values[name] = max(1, int(str(raw if not isinstance(raw, list) else raw[0])))
                except ValueError:
                    continue
            else:
                values[name] = str(raw if not isinstance(raw, list) else raw[0]).strip()
        if values.get("reviewed") not in (None, *REVIEWED):
            values.pop("reviewed")
        if values.get("status") not in (None, *REVIEW_STATUS):
            values.pop("status")
        return cls(**values)

    def to_params(self) -> dict[str, str]:
        """Only what is set, as URL strings (lists comma-joined)."""
        out: dict[str, str] = {}
        back = {v: k for k, v in URL.items()}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "page" and value == 1:
                continue
            if value in ("", (), None, False):
                continue
            if isinstance(value, tuple):
                out[back[f.name]] = ",".join(sorted(value))
            elif isinstance(value, bool):
                out[back[f.name]] = "1"
            elif isinstance(value, date):
                out[back[f.name]] = value.isoformat()
            else:
                out[back[f.name]] = str(value)
        return out

    def is_empty(self) -> bool:
        return not {k: v for k, v in self.to_params().items() if k != "page"}

    def replace(self, **changes: Any) -> "ListFilters":
        data = asdict(self)
        data.update(changes)
        return ListFilters(**data)

    def query(self, limit: int, offset: int) -> Any:
        """The repository's `CallQuery` for these filters (review engineer's `qa.access.query`)."""
        from qa.access.query import CallQuery

        wanted = {
            "text": self.q or None, "agent": self.agent or None, "failed_item": self.item or None,
            "queue": list(self.queue) or None, "direction": list(self.direction) or None,
            "reviewed": self.reviewed or None, "review_status": self.status or None,
            "roles_uncertain": True if self.roles_uncertain else None, "profile": list(self.profile) or None,
            "sentiment_trend": list(self.trend) or None, "date_from": self.date_from, "date_to": self.date_to,
            "languages": list(self.language) or None, "bands": list(self.band) or None,
            "limit": limit, "offset": offset,
        }
        accepted = {f.name for f in fields(CallQuery)}
        return CallQuery(**{k: v for k, v in wanted.items() if k in accepted})


FILTER_KEYS = tuple(URL)


def carried(params: Mapping[str, Any]) -> dict[str, str]:
    """The list's filter parameters out of a page's query parameters (to carry them to another page)."""
    return ListFilters.from_params(params).to_params()
