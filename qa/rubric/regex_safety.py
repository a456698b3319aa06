"""Rubric regexes that cannot hang a batch: rejected when dangerous, run with a time bound.

Validation (`unsafe_reason`) rejects the shapes that backtrack exponentially: a repeated group
whose body can itself repeat (`(a+)+`, `(\\w+\\s?)+`, `(a*)*`), and a repeated alternation whose
branches start with the same literal (`(ab|ac)*`). Matching (`search`) uses the `regex`
package (same syntax as `re`) with a timeout: each search gets at most `SEARCH_TIMEOUT_S`, and
no more than what is left of the scoring deadline of the call (`scoring_deadline`), so a pattern
that slips through validation ends in `RegexTimeout`, which the pipeline turns into "stored
unscored, with the reason", never a lost call or a hung worker.
"""

from __future__ import annotations

import contextvars
import re
import time
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator

SEARCH_TIMEOUT_S = 1.0  # one pattern against one utterance
SCORING_BUDGET_S = 30.0  # every regex of one call, together

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("rubric_deadline", default=None)


class RegexTimeout(RuntimeError):
    """A rubric pattern ran past its time bound."""


try:  # Python 3.11 names
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT} | ({_c.POSSESSIVE_REPEAT} if hasattr(_c, "POSSESSIVE_REPEAT") else set())


def _can_repeat(items) -> bool:
    """True when the parsed pattern contains a variable-length repeat (`+`, `*`, `{2,5}`; not `{3}`)."""
    for op, av in items:
        if op in _REPEATS:
            lo, hi, sub = av
            if (hi > 1 and lo != hi) or _can_repeat(sub):
                return True
        elif op == _c.SUBPATTERN:
            if _can_repeat(av[-1]):
                return True
        elif op == _c.BRANCH:
            if any(_can_repeat(b) for b in av[1]):
                return True
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            if _can_repeat(av[1]):
                return True
    return False


def _first_chars(items) -> set | None:
    """What the first character of a branch can be (None: anything / unknown)."""
    for op, av in items:
        if op == _c.LITERAL:
            return {("lit", av)}
        if op == _c.IN:
            return None
        if op == _c.SUBPATTERN:
            return _first_chars(av[-1])
        return None
    return set()


def _overlapping_branches(items) -> bool:
    for op, av in items:
        if op == _c.BRANCH:
            firsts = [f for b in av[1] if (f := _first_chars(b)) is not None]  # classes: left to the timeout
            seen: set = set()
            for f in firsts:
                if f & seen:
                    return True
                seen |= f
        elif op == _c.SUBPATTERN and _overlapping_branches(av[-1]):
            return True
    return False


def _walk(items, inside_repeat: bool) -> str | None:
    for op, av in items:
        if op in _REPEATS:
            lo, hi, sub = av
            if hi > 1:
                if _can_repeat(sub):
                    return "a repeated group that itself repeats (nested quantifier)"
                if _overlapping_branches(sub):
                    return "a repeated alternation whose branches can match the same text"
            found = _walk(sub, inside_repeat or hi > 1)
            if found:
                return found
        elif op == _c.SUBPATTERN:
            found = _walk(av[-1], inside_repeat)
            if found:
                return found
        elif op == _c.BRANCH:
            for b in av[1]:
                found = _walk(b, inside_repeat)
                if found:
                    return found
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            found = _walk(av[1], inside_repeat)
            if found:
                return found
    return None


def unsafe_reason(pattern: str) -> str | None:
    """Why `pattern` may backtrack exponentially (catastrophic backtracking), or None."""
    try:
        parsed = _p.parse(pattern)
    except re.error:
        return None  # the caller reports the syntax error itself
    what = _walk(list(parsed), False)
    return f"{what} can take exponential time on a long utterance; rewrite it without the nesting" if what else None


@lru_cache(maxsize=512)
def compile_pattern(pattern: str):
    import regex

    return regex.compile(pattern, regex.IGNORECASE | regex.VERSION0)


@contextmanager
def scoring_deadline(seconds: float = SCORING_BUDGET_S) -> Iterator[None]:
    """Bound the regex time of everything scored inside (one call)."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def search(pattern: str, text: str):
    """`pattern` searched in `text` within the time bound; `RegexTimeout` past it."""
    limit = SEARCH_TIMEOUT_S
    deadline = _deadline.get()
    if deadline is not None:
        limit = min(limit, deadline - time.monotonic())
        if limit <= 0:
            raise RegexTimeout(f"the call's scoring time ({SCORING_BUDGET_S:.0f} s for its patterns) ran out at {pattern!r}")
    try:
        return compile_pattern(pattern).search(text, timeout=limit)
    except TimeoutError:
        raise RegexTimeout(f"pattern {pattern!r} ran past {limit:.1f} s on a {len(text)}-character utterance") from None
