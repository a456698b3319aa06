"""What a measurement ran on: CPU, cores, RAM, load, OS, library versions and the date.

Accuracy reports (`callqa eval`) and benchmarks (`benchmarks/`) both print this beside their
figures, so a table pasted into the README always says which machine and software made it.
"""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

VERSIONED = ("faster-whisper", "ctranslate2", "duckdb", "torch", "numpy")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """CPU, cores, RAM, 1-minute load average, OS, Python and library versions, UTC date."""
    import psutil

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in VERSIONED},
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def machine_line(m: dict[str, Any]) -> str:
    """One line for a report; tolerates the shorter machine records older result files carry."""
    v = m.get("versions", {})
    parts = [str(m.get("cpu", "unknown CPU")), f"{m.get('cores', '?')} cores"]
    if m.get("ram_gb") is not None:
        parts.append(f"{m['ram_gb']} GiB RAM")
    if m.get("os"):
        parts.append(str(m["os"]))
    parts.append(f"Python {m.get('python', '?')}")
    if v:
        parts.append(f"faster-whisper {v.get('faster-whisper')}, CTranslate2 {v.get('ctranslate2')}, "
                     f"DuckDB {v.get('duckdb')}")
    line = ", ".join(parts)
    if m.get("load_avg_1m") is not None:
        line += f"; load average at start {m['load_avg_1m']}"
    if m.get("date"):
        line += f"; {m['date']}"
    return line
