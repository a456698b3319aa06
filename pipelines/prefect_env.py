"""Prefect settings for running without a server: must be applied before `import prefect`.

With no `PREFECT_API_URL`, Prefect starts a temporary local server on the first flow call
(10-30 s here). We keep its home inside the project, allow it time to start, and turn
analytics off. Values already in the environment win, so ops can point at a real server.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def configure(verbose: bool = False) -> None:
    # marks Prefect's temporary server with the batch that starts it, so a killed batch's server
    # can be found and stopped (pipelines/reaper.py); a child process re-marks with its own pid
    os.environ["CALLQA_PREFECT_OWNER"] = str(os.getpid())
    os.environ.setdefault("PREFECT_HOME", str(PROJECT_ROOT / ".prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "false")
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")  # pyannote telemetry off
    if not os.environ.get("CALLQA_ONLINE"):  # never reach for a model hub unless asked to
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
