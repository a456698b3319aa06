"""Versioned YAML rubrics: schema and loading (`schema`), phrase matching (`matching`), scoring (`engine`)."""
