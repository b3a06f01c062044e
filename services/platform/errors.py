"""Error types of the service layer. The UI turns these into user-facing alerts in one place."""
from __future__ import annotations


class FoldDeckError(Exception):
    """Base class: the message is written for the person who will read it."""


class SettingsError(FoldDeckError):
    """A setting has a value FoldDeck cannot use."""


class UserError(FoldDeckError):
    """A user operation was refused (unknown user, duplicate name, last admin...)."""


class UserNotFound(UserError):
    """No user with that name or id."""


class LoginThrottled(FoldDeckError):
    """Too many failed logins; `retry_after` seconds until the next try is allowed."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class TokenExpired(FoldDeckError):
    """An API token is right but past its expiry date; the message names it and the date."""


class PermissionDenied(FoldDeckError):
    """The caller may not do this."""


class InvalidInput(FoldDeckError):
    """An input document or value was rejected; `problems` lists what and where."""

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.problems = problems or []


class JobNotFound(FoldDeckError):
    """No such job, or not one the caller may see (the two are indistinguishable on purpose)."""


class JobStateError(FoldDeckError):
    """The job is not in a state that allows this operation."""


class LimitExceeded(FoldDeckError):
    """A per-user limit refuses the submission."""


class TermsNotAccepted(FoldDeckError):
    """The AlphaFold 3 model-parameter terms were not accepted for this submission."""


class HostUnreachable(FoldDeckError):
    """An SSH host could not be reached or refused authentication."""


class SignInUnavailable(FoldDeckError):
    """Signing in through the institution's provider failed on FoldDeck's or the provider's side (unreachable,
    wrong secret, bad certificate, a token that does not verify). The message is the plain one for the person;
    `detail` is the admin's: what failed and what to check, for the application log."""

    def __init__(self, message: str, detail: str):
        super().__init__(message)
        self.detail = detail


class SignInRefused(FoldDeckError):
    """The provider knows the person but FoldDeck does not let them in (not in the sign-in group, no account
    and accounts are not created on first login, account disabled); the message says which, plainly."""
