"""Rubric titles and coaching text for the dashboard, read from the rubric YAML files.

The store keeps item ids only; the titles, section names, order and coaching advice
live in `scoring_rubrics/<rubric_id>.yaml`. A missing or broken rubric file is not an
error here: callers fall back to the ids.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from pathlib import Path

from qa.rubric.schema import RubricError, find_rubric, load_rubric

REPO_RUBRIC_DIR = Path(__file__).resolve().parent.parent / "scoring_rubrics"


@dataclass(frozen=True)
class ItemInfo:
    """What the rubric says about one item."""

    item_id: str
    title: str
    section_id: str
    section_title: str
    coaching: str
    description: str
    order: int
    critical: bool = False
    check: Any = field(default=None, compare=False)  # the item's `qa.rubric.schema` check (type, speaker, window, phrases)


@dataclass(frozen=True)
class RubricInfo:
    """A rubric's display data: id, version, title, sections in order, items by id."""

    rubric_id: str
    version: str
    title: str
    path: str
    language: str = "en"
    bands: tuple[tuple[str, float], ...] = ()  # (band name, min %), highest first
    sections: list[tuple[str, str]] = field(default_factory=list)
    items: dict[str, ItemInfo] = field(default_factory=dict)

    def section_title(self, section_id: str) -> str:
        return dict(self.sections).get(section_id, section_id)


def default_rubric_dir() -> Path:
    """`CALLQA_RUBRIC_DIR`, else the pipeline settings' rubric_dir, else the repository's."""
    env = os.environ.get("CALLQA_RUBRIC_DIR")
    if env:
        return Path(env).expanduser()
    try:
        from qa.config import load_settings

        return Path(load_settings().rubric_dir)
    except Exception:  # a broken callqa.toml must not take the dashboard down
        return REPO_RUBRIC_DIR


@lru_cache(maxsize=32)
def _load(path: str, mtime: float) -> RubricInfo:
    rubric = load_rubric(path)
    sections = [(s.id, s.title) for s in rubric.sections]
    items = {
        item.id: ItemInfo(item.id, item.title, section.id, section.title, item.coaching, item.description, n,
                          bool(item.critical), item.check)
        for n, (section, item) in enumerate(rubric.items())
    }
    return RubricInfo(rubric.id, rubric.version, rubric.title, path, str(rubric.language or "en"),
                      tuple(sorted(((b.name, float(b.min_pct)) for b in rubric.bands), key=lambda b: -b[1])),
                      sections, items)


def rubric_info(rubric_id: str | None, rubric_dir: str | Path | None = None) -> RubricInfo | None:
    """Display data for `rubric_id`, or None when its file is missing or invalid."""
    if not rubric_id:
        return None
    directory = Path(rubric_dir) if rubric_dir is not None else default_rubric_dir()
    try:
        path = find_rubric(str(rubric_id), directory)
        return _load(str(path), path.stat().st_mtime)
    except (RubricError, OSError):
        return None
