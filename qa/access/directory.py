"""callqa's own users and teams, in the access file beside the store (`<db>.access.duckdb`).

identity -> role, agent id, display name, queues (reviewers), grants; teams map agents to the
team leads who lead them. `callqa users add|list|remove|set-role` manages them; a groups claim
from the identity provider may seed a role for an identity that is not in the table yet.

Why a file of its own (shared with the audit trail, `qa.access.audit`): the nightly batch holds
the store's write lock for each call it saves, and DuckDB allows one writing process per file.
The dashboard writes an audit row for every call opened; in the store those writes would wait on
(and delay) the batch. The access file is written only by dashboard processes and the admin's
CLI, through short connections with lock retry, so neither ever waits on the batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from qa.access.model import GRANTS, ROLES, User, Viewer, viewer_for
from qa.store import Store, sibling_path

ACCESS_DDL = [
    """CREATE TABLE IF NOT EXISTS users (
        identity VARCHAR PRIMARY KEY, role VARCHAR NOT NULL, agent_id VARCHAR, display_name VARCHAR,
        queues_json VARCHAR, grants_json VARCHAR, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS team_leads (team_id VARCHAR, identity VARCHAR, PRIMARY KEY (team_id, identity))""",
    """CREATE TABLE IF NOT EXISTS team_agents (team_id VARCHAR, agent_id VARCHAR, PRIMARY KEY (team_id, agent_id))""",
    """CREATE TABLE IF NOT EXISTS audit (
        seq BIGINT PRIMARY KEY, occurred_at TIMESTAMPTZ NOT NULL, actor VARCHAR NOT NULL, role VARCHAR, auth VARCHAR,
        action VARCHAR NOT NULL, call_id VARCHAR, target VARCHAR, detail_json VARCHAR, prev_hash VARCHAR,
        row_hash VARCHAR NOT NULL)""",
]
_USER_COLUMNS = "identity, role, agent_id, display_name, queues_json, grants_json"


class UserError(ValueError):
    """A users-table change that cannot be made as asked (the message says why)."""


def access_path(db: str | Path) -> Path:
    """`callqa.duckdb` -> `callqa.access.duckdb` (same folder)."""
    return sibling_path(db, "access")


class AccessFile:
    """The access file of the store at `db`, through short-lived connections with lock retry."""

    def __init__(self, db: str | Path, timeout_s: float = 20.0):
        self.path = access_path(db)
        self.store = Store(self.path, timeout_s=timeout_s, read_timeout_s=timeout_s)

    def writer(self):
        """A write connection with the schema in place."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return _Writer(self.store)

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        if not self.path.is_file():
            return []
        try:
            return self.store.query(sql, params)
        except Exception as exc:  # the file exists but this table was never written
            if "does not exist" in str(exc):
                return []
            raise


class _Writer:
    def __init__(self, store: Store):
        self._cm = store.connect()

    def __enter__(self):
        con = self._cm.__enter__()
        for ddl in ACCESS_DDL:
            con.execute(ddl)
        return con

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def _clean_list(values: Iterable[str] | None) -> list[str]:
    return sorted({v.strip() for v in values or [] if v and v.strip()})


class Directory:
    """Users and teams of one store."""

    def __init__(self, db: str | Path, timeout_s: float = 20.0):
        self.file = AccessFile(db, timeout_s)

    # --- reads -------------------------------------------------------------------------
    def get(self, identity: str) -> User | None:
        rows = self.file.query(f"SELECT {_USER_COLUMNS} FROM users WHERE identity = ?", [identity.strip()])
        return self._user(rows[0]) if rows else None

    def list(self) -> list[User]:
        return [self._user(r) for r in self.file.query(f"SELECT {_USER_COLUMNS} FROM users ORDER BY role, identity")]

    def members(self, teams: Iterable[str]) -> list[str]:
        """The agent ids of `teams` (sorted, no repeats)."""
        names = _clean_list(teams)
        if not names:
            return []
        marks = ", ".join("?" * len(names))
        return [a for (a,) in self.file.query(
            f"SELECT DISTINCT agent_id FROM team_agents WHERE team_id IN ({marks}) ORDER BY 1", names)]

    def _user(self, row: Sequence) -> User:
        identity, role, agent_id, name, queues, grants = row
        if role == "team_lead":
            teams = [t for (t,) in self.file.query("SELECT team_id FROM team_leads WHERE identity = ? ORDER BY 1", [identity])]
        else:
            teams = [t for (t,) in self.file.query(
                "SELECT team_id FROM team_agents WHERE agent_id = ? ORDER BY 1", [agent_id])] if agent_id else []
        return User(identity, role, agent_id, name, tuple(json.loads(queues or "[]")), tuple(json.loads(grants or "[]")),
                    tuple(teams))

    def team_agents(self, identity: str) -> tuple[str, ...]:
        """Agent ids in the teams `identity` leads."""
        rows = self.file.query("""SELECT DISTINCT a.agent_id FROM team_leads l JOIN team_agents a USING (team_id)
                                  WHERE l.identity = ? ORDER BY 1""", [identity])
        return tuple(a for (a,) in rows)

    def viewer(self, identity: str, auth: str = "none") -> Viewer | None:
        """The viewer for a signed-in identity, or None when callqa does not know it."""
        user = self.get(identity)
        if user is None:
            return None
        return viewer_for(user, self.team_agents(user.identity) if user.role == "team_lead" else (), auth)

    # --- writes ------------------------------------------------------------------------
    def add(
        self, identity: str, role: str, agent_id: str | None = None, display_name: str | None = None,
        teams: Iterable[str] | None = None, queues: Iterable[str] | None = None, grants: Iterable[str] | None = None,
        replace: bool = False,
    ) -> User:
        """Create (or with `replace`, overwrite) a user; `teams` = teams led (team_lead) or joined (agent)."""
        identity = (identity or "").strip()
        if not identity:
            raise UserError("a user needs an identity (the e-mail or subject the identity provider sends)")
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        agent_id = (agent_id or "").strip() or None
        if role == "agent" and not agent_id:
            raise UserError("an agent needs --agent-id (the agent_id their calls carry)")
        bad = [g for g in grants or [] if g not in GRANTS]
        if bad:
            raise UserError(f"unknown grant {bad[0]!r}; grants: {', '.join(GRANTS)}")
        teams = _clean_list(teams)
        if teams and role not in ("team_lead", "agent"):
            raise UserError("--team applies to team leads (teams they lead) and agents (their team)")
        now = datetime.now(timezone.utc)
        with self.file.writer() as con:
            exists = con.execute("SELECT 1 FROM users WHERE identity = ?", [identity]).fetchall()
            if exists and not replace:
                raise UserError(f"user {identity!r} exists; use set-role, or remove it first")
            con.execute("BEGIN TRANSACTION")
            con.execute("DELETE FROM users WHERE identity = ?", [identity])
            con.execute("DELETE FROM team_leads WHERE identity = ?", [identity])
            con.execute(f"INSERT INTO users ({_USER_COLUMNS}, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [identity, role, agent_id, display_name, json.dumps(_clean_list(queues)),
                         json.dumps(_clean_list(grants)), now, now])
            for team in teams:
                if role == "team_lead":
                    con.execute("INSERT INTO team_leads VALUES (?, ?)", [team, identity])
                else:
                    con.execute("INSERT INTO team_agents VALUES (?, ?) ON CONFLICT DO NOTHING", [team, agent_id])
            con.execute("COMMIT")
        user = self.get(identity)
        assert user is not None
        return user

    def set_role(self, identity: str, role: str, agent_id: str | None = None) -> User:
        user = self.get(identity)
        if user is None:
            raise UserError(f"no user {identity!r}")
        return self.add(identity, role, agent_id or user.agent_id, user.display_name,
                        user.teams if role in ("team_lead", "agent") and role == user.role else None,
                        user.queues if role == "reviewer" else None, user.grants, replace=True)

    def remove(self, identity: str) -> bool:
        with self.file.writer() as con:
            found = con.execute("SELECT 1 FROM users WHERE identity = ?", [identity]).fetchall()
            con.execute("DELETE FROM users WHERE identity = ?", [identity])
            con.execute("DELETE FROM team_leads WHERE identity = ?", [identity])
        return bool(found)

    def seed_from_groups(self, identity: str, groups: Iterable[str], agent_id: str | None = None) -> User | None:
        """A first sign-in whose groups claim names a role: create the user with the strongest such role."""
        named = [g for g in ROLES if g in set(groups or [])]
        if not named or self.get(identity) is not None:
            return None
        role = named[0]  # ROLES is ordered strongest first
        if role == "agent" and not agent_id:
            return None
        return self.add(identity, role, agent_id=agent_id)
