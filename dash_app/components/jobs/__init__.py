"""Widgets about jobs: the jobs grid and its deltas, state and size badges, delete/rename/pin."""
