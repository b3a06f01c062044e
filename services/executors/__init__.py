"""Executors run one AF3 command for one job attempt: locally or on an SSH host."""
from __future__ import annotations

from services.executors.base import Executor, ExecutorError, HostUnavailable, RunSpec, make_executor

__all__ = ["Executor", "ExecutorError", "HostUnavailable", "RunSpec", "make_executor"]
