"""Handle time from what each call already measured: talk, hold and the after-call gap.

  hold_s            `hold_total_s` (qa.holds / qa.metrics), 0 for a call with no hold
  talk_s            the recording's length minus its holds (time connected and not on hold; silences count)
  after_call_gap_s  from the call's end (start + duration) to the same agent's next call start, when that
                    is at most `after_call_max_s` (default 300 s): the agent's wrap-up. A longer gap is a
                    break, a negative one (overlapping recordings) is bad data, and the agent's last call
                    has no next one: those are unknown (NULL), never 0
  AHT               mean talk + mean hold + mean after-call gap, each over the calls where it is known
                    (an unknown gap does not pull AHT down)
"""

from __future__ import annotations

# per call: the gap to the same agent's next call (any call status: a failed recording was still a call)
AFTER_CALL_SQL = """
agent_next AS (
    SELECT call_id, epoch(lead(started_at) OVER (PARTITION BY agent_id ORDER BY started_at, call_id)) AS next_epoch
    FROM calls WHERE agent_id IS NOT NULL AND started_at IS NOT NULL
)"""


def after_call_expr(max_param: str = "?") -> str:
    """The after-call gap of `base b` joined to `agent_next n` (one bound parameter: the maximum)."""
    gap = "(n.next_epoch - (epoch(b.started_at) + b.duration_s))"
    return f"CASE WHEN {gap} >= 0 AND {gap} <= {max_param} THEN round({gap}, 3) END"


def aht(talk_mean: float | None, hold_mean: float | None, after_mean: float | None) -> float | None:
    """Average handle time from the parts' means (None without talk)."""
    if talk_mean is None:
        return None
    return talk_mean + (hold_mean or 0.0) + (after_mean or 0.0)
