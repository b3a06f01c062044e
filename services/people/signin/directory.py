"""LDAP and Active Directory sign-in with ldap3, always over TLS with the certificate checked.

Either bind as the user directly (FOLDDECK_LDAP_USER_DN, a DN template), or search for them with a service
account and bind as the DN found. Groups come from a group search (OpenLDAP's groupOfNames) or from the
user's `memberOf` (Active Directory). A wrong password or an unknown user returns None; a directory that
cannot be reached, a refused certificate or a refused service account raise SignInUnavailable, whose
`detail` tells the admin what to check.
"""
from __future__ import annotations

import ssl
from urllib.parse import urlsplit

from ldap3 import BASE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import (
    LDAPException,
    LDAPInvalidCredentialsResult,
    LDAPNoSuchObjectResult,
    LDAPStartTLSError,
)
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from services.people.signin.admission import Identity
from services.people.signin.config import LdapConfig
from services.platform import defaults
from services.platform.errors import SignInUnavailable

PROVIDER = "ldap"
USER_ATTRIBUTES = ["mail", "memberOf"]
UNAVAILABLE = ("Signing in with your institution account is not working right now. The administrator has been "
               "told; please try again later.")


def _fail(cfg: LdapConfig, detail: str) -> SignInUnavailable:
    return SignInUnavailable(UNAVAILABLE, f"LDAP sign-in at {cfg.url} failed: {detail}")


def _server(cfg: LdapConfig) -> Server:
    parts = urlsplit(cfg.url)
    ldaps = parts.scheme == "ldaps"
    # ldap3 then checks the certificate's name against the host itself (core/tls.py check_hostname)
    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(cfg.ca_file) if cfg.ca_file else None)
    return Server(parts.hostname, port=parts.port or (636 if ldaps else 389), use_ssl=ldaps, tls=tls,
                  get_info=NONE, connect_timeout=defaults.SIGNIN_TIMEOUT_S)


def _problem(exc: Exception) -> str:
    text = str(exc)
    if "certificate" in text.lower() or "ssl" in text.lower():
        return (f"the directory's TLS certificate was refused ({text}); check its expiry and name, and "
                "FOLDDECK_LDAP_CA_FILE")
    return f"{type(exc).__name__}: {text}"


def _bind(cfg: LdapConfig, server: Server, dn: str, password: str) -> Connection | None:
    """Return a connection bound as `dn` (TLS in place first), or None if the directory refuses the password.

    Raises:
        SignInUnavailable: the directory cannot be reached or its certificate is refused.
    """
    conn = Connection(server, user=dn, password=password, receive_timeout=defaults.SIGNIN_TIMEOUT_S,
                      raise_exceptions=True, auto_referrals=False)
    try:
        conn.open()
        if cfg.starttls:
            conn.start_tls()
        conn.bind()
    except LDAPInvalidCredentialsResult:
        conn.unbind()
        return None
    except LDAPStartTLSError as exc:
        raise _fail(cfg, f"StartTLS failed: {_problem(exc)}") from None
    except LDAPException as exc:
        raise _fail(cfg, _problem(exc)) from None
    return conn


def _search(cfg: LdapConfig, conn: Connection, base: str, query: str, scope=SUBTREE, attributes=None) -> list:
    try:
        conn.search(base, query, search_scope=scope, attributes=attributes or [], size_limit=1000)
    except LDAPException as exc:
        raise _fail(cfg, f"searching {base!r} for {query!r} failed: {_problem(exc)}") from None
    return list(conn.entries)


def _find_user(cfg: LdapConfig, server: Server, username: str) -> tuple[str, object] | None:
    """Return (DN, entry) of the user found with the service account, or None if there is no such user."""
    service = _bind(cfg, server, cfg.bind_dn, cfg.bind_password) if cfg.bind_dn else _bind(cfg, server, "", "")
    if service is None:
        raise _fail(cfg, f"the service account {cfg.bind_dn!r} was refused; check FOLDDECK_LDAP_BIND_DN and "
                         "FOLDDECK_LDAP_BIND_PASSWORD")
    try:
        found = _search(cfg, service, cfg.user_base,
                        cfg.user_filter.format(username=escape_filter_chars(username)), attributes=USER_ATTRIBUTES)
    finally:
        service.unbind()
    if len(found) > 1:
        raise _fail(cfg, f"{len(found)} entries match {username!r} under {cfg.user_base!r}; make "
                         "FOLDDECK_LDAP_USER_FILTER match one person")
    return (found[0].entry_dn, found[0]) if found else None


def _groups(cfg: LdapConfig, conn: Connection, dn: str, username: str, entry) -> frozenset[str]:
    """Return the user's groups: by a group search when a group base is set, else their memberOf."""
    if cfg.group_base:
        query = cfg.group_filter.format(dn=escape_filter_chars(dn), username=escape_filter_chars(username))
        return frozenset(g.entry_dn for g in _search(cfg, conn, cfg.group_base, query))
    values = entry["memberOf"].values if entry is not None and "memberOf" in entry.entry_attributes else []
    return frozenset(str(v) for v in values)


def authenticate(cfg: LdapConfig, username: str, password: str) -> Identity | None:
    """Return who signed in, or None for an unknown user or a wrong password.

    Raises:
        SignInUnavailable: the directory is down, its certificate or the service account is refused.
    """
    username = (username or "").strip()
    if not username or not password:  # an empty password is an anonymous bind: it "succeeds" for anyone
        return None
    server = _server(cfg)
    entry = None
    if cfg.user_dn:
        dn = cfg.user_dn.format(username=escape_rdn(username))
    else:
        found = _find_user(cfg, server, username)
        if found is None:
            return None
        dn, entry = found
    conn = _bind(cfg, server, dn, password)
    if conn is None:
        return None
    try:
        if entry is None:
            own = _search(cfg, conn, dn, "(objectClass=*)", scope=BASE, attributes=USER_ATTRIBUTES)
            entry = own[0] if own else None
        groups = _groups(cfg, conn, dn, username, entry)
    finally:
        conn.unbind()
    mail = str(entry["mail"].value or "") if entry is not None and "mail" in entry.entry_attributes else ""
    return Identity(provider=PROVIDER, subject=dn, username=username, email=mail, groups=groups)


def current_groups(cfg: LdapConfig, dn: str, username: str) -> frozenset[str] | None:
    """Return the groups of the entry `dn` as the service account reads them now, or None if it is gone.

    Raises:
        SignInUnavailable: no service account is configured, or the directory cannot be used.
    """
    if not cfg.bind_dn:
        raise _fail(cfg, "checking people between sign-ins needs a service account (FOLDDECK_LDAP_BIND_DN)")
    service = _bind(cfg, _server(cfg), cfg.bind_dn, cfg.bind_password)
    if service is None:
        raise _fail(cfg, f"the service account {cfg.bind_dn!r} was refused; check FOLDDECK_LDAP_BIND_DN and "
                         "FOLDDECK_LDAP_BIND_PASSWORD")
    try:
        try:
            service.search(dn, "(objectClass=*)", search_scope=BASE, attributes=USER_ATTRIBUTES)
        except LDAPNoSuchObjectResult:
            return None
        except LDAPException as exc:
            raise _fail(cfg, f"reading {dn!r} failed: {_problem(exc)}") from None
        if not service.entries:
            return None
        return _groups(cfg, service, dn, username, service.entries[0])
    finally:
        service.unbind()
