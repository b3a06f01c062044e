"""Reusable widgets: functions that return Dash components."""
