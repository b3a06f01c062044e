"""Running jobs: the worker's claim loop (`worker`), one attempt's run (`attempt`), its guard against a
full disk (`disk_guard`), what a finished run must leave (`outputs`), and the `executors` per host kind.
"""
