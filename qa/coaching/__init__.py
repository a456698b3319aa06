"""Coaching reports: figures (`report`), charts (`charts`), HTML/PDF/CSV (`render`), in the rubric's language.

Rows come from the scoped layer (`qa.access.coaching`), so reviews and scope apply as everywhere.
"""
