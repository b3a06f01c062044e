"""Telling people a job finished: e-mail and webhooks through an outbox, and toasts in the browser.

A trigger on `jobs.state` (migration 0011) writes the outbox rows and the toast in the very
transaction that finishes a job, whichever code finishes it. `sender` delivers the outbox;
`python -m services.notify` runs it (`make run` starts it).
"""
