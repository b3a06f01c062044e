"""The claim: which queued job a worker starts next, on which host and stage.

Leases, batches of one bucket, the two stages' routing, hosts resting after a failed connect.
"""
