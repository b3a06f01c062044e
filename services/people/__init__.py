"""People and access: users and their sessions, API tokens, rate limits.
"""
