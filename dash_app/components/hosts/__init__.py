"""Widgets about hosts: metric charts, Slurm cluster cards, hosts that rest after a failure."""
