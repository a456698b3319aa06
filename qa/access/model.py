"""Users, roles, grants and the scope a viewer's reads are limited to (plain values, no I/O).

Roles:
  admin      every call; manages users; may delete calls
  team_lead  the calls of the agents in the teams they lead; may review
  reviewer   every call, or only the calls of the queues given; may review
  agent      their own calls only (matched on `calls.agent_id`), read-only

Grants add to a role: `unmask_audio` plays the original recording instead of the redacted one
(each such play is audited).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROLES = ("admin", "team_lead", "reviewer", "agent")
ADMIN_ROLES = ("admin",)
REVIEW_ROLES = ("admin", "team_lead", "reviewer")
GRANTS = ("unmask_audio",)


class AccessDenied(PermissionError):
    """The viewer may not do this (or the call is not theirs to see); the message says which."""


@dataclass(frozen=True)
class User:
    """One row of the users table: an identity (OIDC e-mail/sub or proxy user name) and its role."""

    identity: str
    role: str
    agent_id: str | None = None
    display_name: str | None = None
    queues: tuple[str, ...] = ()
    grants: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()  # teams they lead (team_lead) or belong to (agent)


@dataclass(frozen=True)
class Scope:
    """Which calls a viewer sees: everything, or calls whose agent or queue is listed.

    `agent_ids` and `queues` combine with AND when both are set; an empty tuple matches nothing.
    Calls without an agent id are invisible to a scope that lists agents.
    """

    everything: bool = False
    agent_ids: tuple[str, ...] | None = None
    queues: tuple[str, ...] | None = None

    def sql(self, alias: str = "c") -> tuple[str, list[Any]]:
        """A parameterised predicate over the `calls` row `alias` (DuckDB / PostgreSQL syntax)."""
        if self.everything:
            return "TRUE", []
        parts, params = [], []
        if self.agent_ids is not None:
            parts.append(f"list_contains(?::VARCHAR[], {alias}.agent_id)")
            params.append(list(self.agent_ids))
        if self.queues is not None:
            parts.append(f"list_contains(?::VARCHAR[], {alias}.queue)")
            params.append(list(self.queues))
        if not parts:
            return "FALSE", []
        return " AND ".join(parts), params

    def allows(self, agent_id: str | None, queue: str | None) -> bool:
        """The same rule in Python (for rows already read, e.g. the audit of a denied request)."""
        if self.everything:
            return True
        if self.agent_ids is None and self.queues is None:
            return False
        ok = True
        if self.agent_ids is not None:
            ok &= agent_id is not None and agent_id in self.agent_ids
        if self.queues is not None:
            ok &= queue is not None and queue in self.queues
        return ok


NOTHING = Scope()


@dataclass(frozen=True)
class Viewer:
    """Who is reading: their identity, role, grants and the scope their role gives them."""

    identity: str
    role: str
    scope: Scope = NOTHING
    agent_id: str | None = None
    display_name: str | None = None
    grants: tuple[str, ...] = ()
    auth: str = "none"  # how they signed in: none | proxy | oidc | cli | test

    @property
    def name(self) -> str:
        """What a review or an audit row is signed with."""
        return self.display_name or self.identity

    @property
    def can_review(self) -> bool:
        return self.role in REVIEW_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES

    @property
    def can_unmask_audio(self) -> bool:
        return "unmask_audio" in self.grants

    @property
    def sees_everything(self) -> bool:
        return self.scope.everything

    @property
    def sees_failure_log(self) -> bool:
        """The failure log holds file paths of unattributed files: admins and all-call reviewers only."""
        return self.scope.everything


def scope_for(user: User, team_agents: tuple[str, ...] = ()) -> Scope:
    """The scope a user's role gives; `team_agents` are the agents of the teams a team lead leads."""
    if user.role == "admin":
        return Scope(everything=True)
    if user.role == "reviewer":
        return Scope(queues=tuple(user.queues)) if user.queues else Scope(everything=True)
    if user.role == "team_lead":
        return Scope(agent_ids=tuple(sorted(set(team_agents))))
    if user.role == "agent":
        return Scope(agent_ids=(user.agent_id,)) if user.agent_id else NOTHING
    return NOTHING


def viewer_for(user: User, team_agents: tuple[str, ...] = (), auth: str = "none") -> Viewer:
    return Viewer(user.identity, user.role, scope_for(user, team_agents), user.agent_id, user.display_name,
                  tuple(user.grants), auth)


# The viewer of `auth = none` (loopback only) and of the operator's own CLI commands.
LOCAL_ADMIN = Viewer("local", "admin", Scope(everything=True), display_name="local (no login)", auth="none")
