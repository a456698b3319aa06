"""Contact-centre KPIs: first-contact resolution, handle time, hold and wait, a satisfaction proxy.

  fcr           first contact / repeat / resolved / open, the status of a contact as of a time
  handle_time   talk, hold and after-call gap per call; average handle time
  wait          the longest wait without an announcement (a per-call metric rubrics can use)
  satisfaction  a per-call satisfaction estimate (1-5) and its agreement with real survey scores
  refresh       `call_kpis`: the per-call rows, recomputed across calls (set-based, idempotent)
  summary       figures per agent, team, queue and period, against the team and the previous period
"""
