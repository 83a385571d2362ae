"""KPI arithmetic as pure functions: interval unions, completeness, status timelines.

The engines gather inputs in bulk and call these; nothing here reads a store.
"""
