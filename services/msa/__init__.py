"""The MSA cache: chains searched once, reused by later jobs (keys, entries, eviction).
"""
