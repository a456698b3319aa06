"""First-contact resolution by repeat contact, with the industry's denominator.

Contacts are the processed calls (`ok` or `unscored`; a failed call has no trustworthy metadata).
The customer is `calls.customer_id` (sidecar or `filename_pattern`); a call without one is
`unknown`: never matched to anyone, never guessed. For each customer, in order of start time
(an absolute UTC instant, so midnight and time zones do not matter):

  first contact  no contact of the same customer within the window before it (the window of the
                 contact's queue, `fcr_queue_window_days`, else `fcr_window_days`, default 7 days;
                 "within" = at most the window apart)
  repeat         any other contact; `first_call_id` names the first contact of its chain
  resolved       a first contact whose window has passed with no further contact of that customer in it
  not resolved   a first contact followed by a contact of that customer within its window
                 (`repeat_call_id`), once its window has passed
  open           a first contact whose window has not passed yet (as of the reading time): it is left
                 out of the denominator until then, repeat or not, so open windows bias nothing

  FCR = resolved / (resolved + not resolved)

per agent (the agent of the first contact), team, queue and period (the first contact's start).
The rows are stored in `call_kpis` (`qa.kpi.refresh`), so a repeat that arrives in a later
nightly batch updates the earlier contact's row; the status itself is read with `status_sql` as of
a time, since "open" turns into "resolved" by the clock alone.
"""

from __future__ import annotations

STATUSES = ("resolved", "not_resolved", "open", "repeat", "unknown")

# one row per contact with a known customer and start: chain position and what followed (params: none)
CHAIN_SQL = """
chain AS (
    SELECT call_id, customer_id, started_at, window_s,
           lag(started_at) OVER w AS prev_start, lead(started_at) OVER w AS next_start, lead(call_id) OVER w AS next_call
    FROM base WHERE customer_id IS NOT NULL AND started_at IS NOT NULL
    WINDOW w AS (PARTITION BY customer_id ORDER BY started_at, call_id)
),
firsts AS (
    SELECT *, (prev_start IS NULL OR epoch(started_at) - epoch(prev_start) > window_s) AS is_first FROM chain
),
contacts AS (
    SELECT call_id, is_first,
           last_value(CASE WHEN is_first THEN call_id END IGNORE NULLS) OVER (
               PARTITION BY customer_id ORDER BY started_at, call_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
           ) AS first_call_id,
           CASE WHEN next_start IS NOT NULL AND epoch(next_start) - epoch(started_at) <= window_s
                THEN next_call END AS repeat_call_id,
           started_at + to_seconds(window_s) AS window_ends_at
    FROM firsts
)"""


def status_sql(k: str = "k") -> str:
    """The status of a `call_kpis` row aliased `k`, as of the bound timestamp (one `?`)."""
    return (f"CASE WHEN NOT coalesce({k}.customer_known, false) OR {k}.is_first IS NULL THEN 'unknown'"
            f" WHEN NOT {k}.is_first THEN 'repeat' WHEN {k}.window_ends_at > ? THEN 'open'"
            f" WHEN {k}.repeat_call_id IS NOT NULL THEN 'not_resolved' ELSE 'resolved' END")


def fcr_pct(resolved: int, not_resolved: int) -> float | None:
    decided = resolved + not_resolved
    return 100.0 * resolved / decided if decided else None
