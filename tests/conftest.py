"""Shared fixtures: paths to the shared real recordings, settings with a temp store, audio mixes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CALLQA_SHARED_DATA", REPO.parent / "shared" / "data"))
SAMPLES = REPO / "sample_audio"

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")


def shared(*parts: str) -> Path:
    """A shared real recording; skipped on a developer's machine without it, a FAILURE in CI (CI=true),
    where a missing data folder would otherwise turn every accuracy test into a silent skip."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"shared recording {path} not present (CI needs ../shared/data; set CALLQA_SHARED_DATA)")
        pytest.skip(f"shared recording {path} not present")
    return path


@pytest.fixture(scope="session", autouse=True)
def _component_scan_once():
    """Every new Streamlit `AppTest` scans all installed distributions for v2 component manifests
    (about 0.3 s, several hundred AppTests a session); the installed packages do not change during a
    session, so the scan runs once and each AppTest gets a copy of its result. Each AppTest still
    builds and fills its own component registry from it."""
    try:
        from streamlit.components.v2 import manifest_scanner
    except ImportError:  # a Streamlit without v2 components: nothing to save
        yield
        return
    scan = manifest_scanner.scan_component_manifests
    found: dict = {}

    def scan_once(max_workers=None):
        if "manifests" not in found:
            found["manifests"] = scan(max_workers)
        return list(found["manifests"])

    manifest_scanner.scan_component_manifests = scan_once
    yield
    manifest_scanner.scan_component_manifests = scan


@pytest.fixture(scope="session")
def settings():
    from qa.config import load_settings

    return load_settings(asr_threads=2)


@pytest.fixture
def tmp_settings(settings, tmp_path):
    return settings.model_copy(update={"db": tmp_path / "t.duckdb"})


def settled(*roots: Path) -> None:
    """Date every file under `roots` an hour back, as recordings dropped in an inbox well before the
    batch: the batch's check for files still being written (`settle_s`) runs and finds none, instead
    of watching the test's just-copied files for 2 s. That check itself is tested in test_hardening."""
    import time

    old = time.time() - 3600
    for root in roots:
        for f in [root] if root.is_file() else root.rglob("*"):
            if f.is_file():
                os.utime(f, (old, old))


@pytest.fixture(scope="session")
def asr_pair(settings):
    """The session's ASR model as two single-threaded replicas (`num_workers=2`), for tests that decode
    independent signals: `transcribe` calls from two threads run at once, as the batch's two 1-thread
    workers do (1.8x the throughput of one 2-thread decode on 2 cores); decoding is the same."""
    from faster_whisper import WhisperModel

    from qa.models import resolve_asr_model

    return WhisperModel(resolve_asr_model(settings), device="cpu", compute_type=settings.asr_compute_type,
                        cpu_threads=1, num_workers=2)


def in_pairs(fn, args: list) -> list:
    """`fn` over `args`, two at a time (threads), results in order."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(fn, args))


@pytest.fixture(scope="session")
def real_calls() -> dict:
    """Pipeline results of the shared real clips, by `qa.eval_harness` cache key (("real", name)), for
    tests that run the same clip with the same settings (the session `settings`); read only."""
    return {}


def aws_tracks(call: int) -> tuple[Path, Path]:
    """The agent and caller tracks of AWS role-played call `call` (40 or 49)."""
    return shared("aws_lca", f"Auto_Repairs_{call}_UTC_agent.wav"), shared("aws_lca", f"Auto_Repairs_{call}_UTC_caller.wav")


def mix_aws(call: int, out_dir: Path, layout: str) -> Path:
    """The AWS call as one stereo (agent left) or mono mix file."""
    from qa.evaluation import mix_tracks

    return mix_tracks(*aws_tracks(call), out_dir / f"aws{call}_{layout}.wav", layout)


@pytest.fixture(scope="session")
def aws_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("aws")


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server for the whole session (20-30 s to start)."""
    from pipelines import prefect_env

    prefect_env.configure()
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


def html_texts(at) -> str:
    """The text of a page's `st.html` blocks (tags and styles removed, entities decoded)."""
    import html
    import re

    bodies = [h.proto.body for h in at.get("html")]
    texts = (html.unescape(re.sub(r"<style.*?</style>|<[^>]+>", " ", b, flags=re.S)) for b in bodies)
    return "\n".join(re.sub(r"\s+", " ", t).replace(" :", ":").strip() for t in texts)


def player_data(at) -> dict | None:
    """The data the call page's player + transcript component was mounted with (None: no player)."""
    import json

    found = [c for c in at.get("bidi_component") if c.proto.component_name == "callqa_player"]
    return json.loads(found[0].proto.json) if found else None


def page_texts(at) -> str:
    """Everything a Streamlit AppTest page says (markdown, captions, titles, alerts, st.html, the
    transcript component's lines), unescaped."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [t.value for t in at.title]
    parts += [e.value for e in (*at.error, *at.warning, *at.info, *at.success)]
    player = player_data(at)
    lines = [f"{ln['head']} {ln['text']}" for ln in (player or {}).get("lines", [])]
    return "\n".join(str(p) for p in parts).replace("\\", "") + "\n" + html_texts(at) + "\n" + "\n".join(lines)


def run_app(page: str | None = None, call_id: str | None = None, user: dict | None = None, timeout: float = 60):
    """The dashboard in AppTest (as `user`, the claims an OIDC sign-in puts in `st.user`), on a page."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "dashboards" / "app.py"), default_timeout=timeout)
    if user is not None:
        at.user = user
    at.run()
    if page:
        at.switch_page(page)
        if call_id:
            at.query_params["call_id"] = call_id
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
