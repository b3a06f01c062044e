"""Fixtures shared by the service tests beyond the ones in tests/conftest.py."""
from __future__ import annotations

from tests.services.test_notify_mail import smtp  # noqa: F401  (a real SMTP server on loopback: aiosmtpd)
