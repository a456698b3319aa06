"""A reviewer's day: the review queue and its sampling rules, reviewing (overrides, sign-off,
comments, a readable timeline), disputes, and calibration (AI vs reviewers, reviewers vs each
other). Everything goes through the scoped data-access layer (`qa.access.repository`) with the
signed-in viewer and is audited (`qa.access.audit`). Rows live in the reviews file beside the
store (`qa.review.records`), written only by dashboard processes and the CLI, never by the batch.

Entry point for pages and the CLI: `qa.review.desk.ReviewDesk`.
"""
