"""Dashboard pages (run by `st.navigation` in `dashboards/app.py`): calls, call, agents."""
