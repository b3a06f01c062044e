"""Running jobs: the worker, hosts, executors, the MSA cache, preflight checks, and reading AF3's
output (progress, failures).
"""
