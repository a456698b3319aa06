"""The QA dashboard: a Streamlit app over the DuckDB store (reads only, never runs models)."""
