"""Operations above the queue and the runners: admin actions, accounts, maintenance windows, retention,
backup, approvals, job removal, result imports, the sampler process.
"""
