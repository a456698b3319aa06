"""callqa domain library: audio, speech, diarization, rubric scoring and the DuckDB store.

Nothing in this package imports Prefect or Streamlit; heavy model libraries (ctranslate2,
torch, resemblyzer) are imported lazily inside the functions that need them.
"""

__version__ = "0.1.0"
