"""A small store for the review tests: 120 calls of the store benchmark's builder, with facts made
consistent (a call is auto-failed exactly when its critical item failed), a few calls that the
sampling rules must pick for a reason, and users of every role."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from benchmarks import bench_store
from qa.access.directory import Directory
from qa.access.model import Viewer
from qa.access.repository import DuckDBRepository
from qa.review.desk import ReviewDesk

CRITICAL = "no_overpromise"  # the tr_inbound rubric's critical item
USERS = {
    "admin@x": ("admin", {}),
    "lead@x": ("team_lead", {"teams": ["t1"]}),
    "lead2@x": ("team_lead", {"teams": ["t2"]}),
    "billing@x": ("reviewer", {"queues": ["billing"]}),
    "qa@x": ("reviewer", {}),
    "a1@x": ("agent", {"agent_id": "A001", "teams": ["t1"]}),
    "a2@x": ("agent", {"agent_id": "A002", "teams": ["t1"]}),
    "a3@x": ("agent", {"agent_id": "A003", "teams": ["t2"]}),
}
ROLES_UNCERTAIN = "call-0000005"
SENTIMENT_FELL = "call-0000007"
NEAR_THRESHOLD = "call-0000009"  # greet_company: similarity 83 against the phrase check's 82
AUTO_FAILED = "call-0000061"  # agent A001 (61 % 60), queue sales


@dataclass
class World:
    db: Path
    repo: DuckDBRepository
    desk: ReviewDesk
    viewers: dict[str, Viewer]

    def __getitem__(self, identity: str) -> Viewer:
        return self.viewers[identity]


def copy_world(base: World, root: Path) -> World:
    """A private copy of a built world (the store and its side files), cheaper than building one."""
    import shutil

    for f in base.db.parent.iterdir():
        if f.is_file():
            shutil.copy2(f, root / f.name)
    db = root / base.db.name
    repo = DuckDBRepository(db)
    return World(db, repo, ReviewDesk(repo), dict(base.viewers))


def make_world(root: Path, n_calls: int = 120) -> World:
    db = root / "calls.duckdb"
    bench_store.build_store(db, n_calls)
    con = duckdb.connect(str(db))
    con.execute("UPDATE call_scores SET auto_failed = (call_id = ?)", [AUTO_FAILED])
    con.execute("UPDATE item_results SET outcome = CASE WHEN call_id = ? THEN 'fail' ELSE 'pass' END WHERE item_id = ?",
                [AUTO_FAILED, CRITICAL])
    con.execute("UPDATE call_scores SET score_pct = 0, band = 'needs_coaching', reason = ? WHERE call_id = ?",
                [f"critical item failed: {CRITICAL}", AUTO_FAILED])
    con.execute("UPDATE calls SET role_confidence = 0.41 WHERE call_id = ?", [ROLES_UNCERTAIN])
    # bench_store gives calls varied moods (for the KPIs); here only SENTIMENT_FELL's customer gets worse
    con.execute("""UPDATE calls SET sentiment_json = '{"customer_trajectory": "steady", "agent_tone": "neutral"}'""")
    con.execute("""UPDATE calls SET sentiment_json = '{"customer_trajectory": "worsened", "customer_start": 0.3,
                   "customer_end": -0.55}' WHERE call_id = ?""", [SENTIMENT_FELL])
    con.execute("UPDATE item_results SET similarity = 83 WHERE call_id = ? AND item_id = 'greet_company'", [NEAR_THRESHOLD])
    con.close()
    directory = Directory(db)
    for identity, (role, kw) in USERS.items():
        directory.add(identity, role, **kw)
    repo = DuckDBRepository(db)
    viewers = {i: directory.viewer(i, auth="test") for i in USERS}
    return World(db, repo, ReviewDesk(repo), viewers)


def call_of(world: World, agent_id: str, n: int = 0) -> str:
    """The n-th ok, scored call of an agent."""
    con = duckdb.connect(str(world.db), read_only=True)
    try:
        rows = con.execute("""SELECT c.call_id FROM calls c JOIN call_scores s USING (call_id)
                              WHERE c.agent_id = ? AND c.status = 'ok' ORDER BY c.call_id""", [agent_id]).fetchall()
    finally:
        con.close()
    return rows[n][0]


def call_with(world: World, item_id: str, outcome: str) -> str:
    """An ok call outside the test teams (A001-A003) whose AI outcome of `item_id` is `outcome`."""
    con = duckdb.connect(str(world.db), read_only=True)
    try:
        rows = con.execute("""SELECT c.call_id FROM calls c JOIN item_results i USING (call_id)
                              WHERE c.agent_id NOT IN ('A001', 'A002', 'A003') AND c.status = 'ok' AND i.item_id = ?
                              AND i.outcome = ? ORDER BY c.call_id""", [item_id, outcome]).fetchall()
    finally:
        con.close()
    return rows[0][0]
