"""The rubric file format (pydantic models) and a loader whose errors name file, line and field.

A rubric has sections of items; each item has one check (phrases, regex, fuzzy, semantic,
metric, sentiment, or all_of / any_of of those), a weight, optional `critical` (call or
section scope) and `applies_when` (conditions on call facts that make the item N/A). Scores are keyed by rubric id + version: editing a rubric means a new
version, and scores under the old version stay. `variables` (e.g. company names) expand
`{name}` placeholders in phrases so one rubric serves several brands.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Speaker = Literal["agent", "customer", "any"]
_ID = r"^[a-z][a-z0-9_]*$"


class RubricError(ValueError):
    """A rubric file is unusable; the message names the file, line and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Window(_Strict):
    """Where in the call a check looks: the first / last N seconds, or around an event.

    `{first_s: 30}`, `{last_s: 60}`, `{event: hold, before_s: 30}` (the 30 s before each hold
    starts) or `{event: hold, after_s: 30}` (the 30 s after each hold ends). An event window
    is checked once per event; a call without the event makes the item N/A.
    """

    first_s: float | None = Field(None, gt=0)
    last_s: float | None = Field(None, gt=0)
    event: str | None = Field(None, pattern=_ID)
    before_s: float | None = Field(None, gt=0)
    after_s: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> "Window":
        kinds = [self.first_s is not None, self.last_s is not None, self.event is not None]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of first_s, last_s or event")
        if self.event is not None and (self.before_s is None) == (self.after_s is None):
            raise ValueError("an event window needs exactly one of before_s or after_s")
        if self.event is None and (self.before_s is not None or self.after_s is not None):
            raise ValueError("before_s / after_s only go with an event")
        return self


class _Scoped(_Strict):
    speaker: Speaker = "agent"
    window: Window | None = None


class PhraseCheck(_Scoped):
    """Pass when the scoped speaker says any / all of the phrases (and none of `none`).

    Matching is token-level and fuzzy (Turkish-aware, suffixes allowed). With `semantic`
    set, an utterance whose meaning is that close (cosine, 0-1) to a phrase also counts
    when no phrase matched word for word.
    """

    type: Literal["phrases"]
    any: list[str] = []
    all: list[str] = []
    none: list[str] = []
    threshold: float = Field(82.0, ge=50, le=100, description="fuzzy similarity 0-100 needed for a match")
    semantic: float | None = Field(None, gt=0, le=1, description="cosine similarity for a semantic fallback")

    @model_validator(mode="after")
    def _some(self) -> "PhraseCheck":
        if not (self.any or self.all or self.none):
            raise ValueError("a phrases check needs at least one of any, all or none")
        return self


class RegexCheck(_Scoped):
    """Pass when any pattern matches an utterance (and no `none` pattern does).

    Patterns run on the utterance lower-cased with Turkish rules (NFC, punctuation kept).
    """

    type: Literal["regex"]
    any: list[str] = []
    none: list[str] = []

    @model_validator(mode="after")
    def _compile(self) -> "RegexCheck":
        if not (self.any or self.none):
            raise ValueError("a regex check needs at least one of any or none")
        from qa.rubric.regex_safety import unsafe_reason

        for pattern in self.any + self.none:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from None
            if why := unsafe_reason(pattern):
                raise ValueError(f"pattern {pattern!r} is refused: {why}")
        return self


class FuzzyCheck(_Scoped):
    """Character-level fuzzy matching (rapidfuzz) of whole phrases against utterances."""

    type: Literal["fuzzy"]
    any: list[str] = []
    none: list[str] = []
    threshold: float = Field(85.0, ge=50, le=100)
    scorer: Literal["partial_ratio", "token_set_ratio", "WRatio"] = "partial_ratio"

    @model_validator(mode="after")
    def _some(self) -> "FuzzyCheck":
        if not (self.any or self.none):
            raise ValueError("a fuzzy check needs at least one of any or none")
        return self


class SemanticCheck(_Scoped):
    """Pass when an utterance means what one of the example sentences means (sentence embeddings)."""

    type: Literal["semantic"]
    any: list[str] = []
    none: list[str] = []
    threshold: float = Field(0.9, gt=0, le=1, description="cosine similarity 0-1")

    @model_validator(mode="after")
    def _some(self) -> "SemanticCheck":
        if not (self.any or self.none):
            raise ValueError("a semantic check needs example sentences in any or none")
        return self


class _Bounds(_Strict):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bound(self):
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class MetricCheck(_Bounds):
    """Pass when a conversation metric (e.g. `interruptions_by_agent`) lies within [min, max]."""

    type: Literal["metric"]
    metric: str = Field(pattern=_ID)


class SentimentCheck(_Scoped):
    """A condition on the sentiment of the scoped utterances, or on the customer's trajectory.

    `measure`: mean_polarity (-1..1), negative_share / positive_share (0..1) with min/max,
    or trajectory with `allowed` (improved | steady | worsened).
    """

    type: Literal["sentiment"]
    measure: Literal["mean_polarity", "negative_share", "positive_share", "trajectory"]
    min: float | None = None
    max: float | None = None
    allowed: list[Literal["improved", "steady", "worsened"]] = []

    @model_validator(mode="after")
    def _bound(self) -> "SentimentCheck":
        if self.measure == "trajectory":
            if not self.allowed:
                raise ValueError("a trajectory condition needs `allowed`, e.g. [improved, steady]")
        elif self.min is None and self.max is None:
            raise ValueError(f"a {self.measure} condition needs min, max or both")
        return self


class AllOf(_Strict):
    """Pass when every sub-check passes (N/A sub-checks are ignored)."""

    type: Literal["all_of"]
    checks: list["Check"] = Field(min_length=2)


class AnyOf(_Strict):
    """Pass when at least one sub-check passes."""

    type: Literal["any_of"]
    checks: list["Check"] = Field(min_length=2)


Check = Annotated[
    Union[PhraseCheck, RegexCheck, FuzzyCheck, SemanticCheck, MetricCheck, SentimentCheck, AllOf, AnyOf],
    Field(discriminator="type"),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()


class Item(_Strict):
    id: str = Field(pattern=_ID)
    title: str
    description: str = ""
    weight: float = Field(1.0, gt=0)
    # true / "call": failing it zeroes the call; "section": it zeroes its section
    critical: bool | Literal["call", "section"] = False
    applies_when: dict[str, Any] | None = None
    check: Check
    coaching: str = ""

    @property
    def critical_scope(self) -> str | None:
        if self.critical is True or self.critical == "call":
            return "call"
        return "section" if self.critical == "section" else None


class Section(_Strict):
    id: str = Field(pattern=_ID)
    title: str
    weight: float = Field(1.0, gt=0)
    items: list[Item] = Field(min_length=1)


class Band(_Strict):
    name: str
    min_pct: float = Field(ge=0, le=100)


class Rubric(_Strict):
    id: str = Field(pattern=_ID)
    version: str
    language: str
    title: str
    description: str = ""
    variables: dict[str, list[str]] = {}
    bands: list[Band] = [Band(name="exceeds", min_pct=90), Band(name="meets", min_pct=75), Band(name="needs_coaching", min_pct=0)]
    sections: list[Section] = Field(min_length=1)
    tests: list[dict[str, Any]] = []

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) else v

    @model_validator(mode="after")
    def _unique_ids(self) -> "Rubric":
        sections: set[str] = set()
        for section in self.sections:
            if section.id in sections:  # two sections under one id would be weighted and reported as one
                raise ValueError(f"section id {section.id!r} is used twice")
            sections.add(section.id)
        seen: set[str] = set()
        for section in self.sections:
            for item in section.items:
                if item.id in seen:
                    raise ValueError(f"item id {item.id!r} is used twice")
                seen.add(item.id)
        return self

    def items(self) -> list[tuple[Section, Item]]:
        return [(s, i) for s in self.sections for i in s.items]

    def expand(self, phrases: list[str], call_variables: dict[str, list[str]] | None = None) -> list[str]:
        """Replace `{variable}` placeholders with each of the variable's values.

        Call-level variables (e.g. `agent_first_name` from the call's metadata) override the
        rubric's; a phrase whose variable has no value is dropped.
        """
        variables = {**self.variables, **(call_variables or {})}
        out: list[str] = []
        for phrase in phrases:
            names = re.findall(r"\{(\w+)\}", phrase)
            variants = [phrase]
            for name in names:
                values = [v for v in variables.get(name, []) if v]
                variants = [v.replace("{" + name + "}", val) for v in variants for val in values]
            out.extend(variants)
        return out


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Follow a pydantic error location through the YAML node tree to a 1-based line."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                continue  # a discriminator tag, or a missing field: stay on the parent
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            continue  # discriminator tags such as 'phrases' are not in the file
        line = node.start_mark.line + 1
    return line


def parse_rubric(text: str, source: str = "<string>") -> Rubric:
    """Validate rubric YAML text; errors are `RubricError` naming source, line and field."""
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        what = " ".join(x for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x) or str(exc)
        raise RubricError(f"{where}: not valid YAML: {what}") from None
    if not isinstance(data, dict):
        raise RubricError(f"{source}:1: a rubric must be a YAML mapping with id, version, sections")
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in loc) or "(top level)"
            line = _line_of(node, loc)
            lines.append(f"{source}:{line}: {field}: {err['msg']}")
        raise RubricError("\n".join(lines)) from None


def load_rubric(path: str | Path) -> Rubric:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RubricError(f"{path}: cannot read rubric: {exc}") from None
    return parse_rubric(text, str(path))


def find_rubric(ref: str, rubric_dir: Path) -> Path:
    """A rubric path from an id (`tr_inbound` -> rubric_dir/tr_inbound.yaml) or a file path."""
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise RubricError(f"{path}: rubric file not found")
        return path
    for ext in (".yaml", ".yml"):
        candidate = rubric_dir / f"{ref}{ext}"
        if candidate.is_file():
            return candidate
    known = sorted(p.stem for p in rubric_dir.glob("*.y*ml"))
    raise RubricError(f"no rubric with id {ref!r} in {rubric_dir} (known: {', '.join(known) or 'none'})")
