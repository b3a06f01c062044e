"""Widgets of a finished job's results: the 3D model, confidence plots and the results card."""
