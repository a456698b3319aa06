"""The rubric file format (pydantic models) and a loader whose errors name file, line and field.

A rubric has sections of items; each item has one check, a weight, optional `critical`
and `applies_when`. Scores are keyed by rubric id + version: editing a rubric means a new
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
    """Restrict a check to the first or last N seconds of the call."""

    first_s: float | None = Field(None, gt=0)
    last_s: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> "Window":
        if (self.first_s is None) == (self.last_s is None):
            raise ValueError("give exactly one of first_s or last_s")
        return self


class PhraseCheck(_Strict):
    """Pass when the scoped speaker says any / all of the phrases (and none of `none`)."""

    type: Literal["phrases"]
    speaker: Speaker = "agent"
    window: Window | None = None
    any: list[str] = []
    all: list[str] = []
    none: list[str] = []
    threshold: float = Field(82.0, ge=50, le=100, description="fuzzy similarity 0-100 needed for a match")

    @model_validator(mode="after")
    def _some(self) -> "PhraseCheck":
        if not (self.any or self.all or self.none):
            raise ValueError("a phrases check needs at least one of any, all or none")
        return self


Check = Annotated[Union[PhraseCheck], Field(discriminator="type")]


class Item(_Strict):
    id: str = Field(pattern=_ID)
    title: str
    description: str = ""
    weight: float = Field(1.0, gt=0)
    critical: bool = False
    applies_when: dict[str, Any] | None = None
    check: Check
    coaching: str = ""


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
