"""Errors of the review domain: each message says what to do, in words a reviewer understands."""

from __future__ import annotations

from qa.reviews import ReviewError


class ReasonRequired(ReviewError):
    """A critical item changed without a reason."""


class DisputeError(ReviewError):
    """A dispute that cannot be raised or decided as asked."""


class QueueError(ReviewError):
    """A queue change that cannot be made (unknown status, call not in the queue)."""


class CalibrationError(ReviewError):
    """A calibration session action that cannot be done (closed, not a member, unknown)."""
