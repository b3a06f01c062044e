"""The sign-in settings as one object per provider, checked together (a setting alone cannot say that a
discovery URL needs a client id). A bad combination raises SettingsError at start-up, naming the variables."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.platform.errors import SettingsError
from services.platform.settings import Settings


@dataclass(frozen=True)
class Policy:
    """Who gets in and as what, the same for every provider."""

    login_group: str = ""  # empty: anyone the provider signs in
    admin_group: str = ""  # empty: FoldDeck's admins set roles
    create_users: bool = True


@dataclass(frozen=True)
class OidcConfig:
    discovery_url: str
    client_id: str
    client_secret: str
    label: str
    username_claim: str
    groups_claim: str
    ca_file: Path | None
    leeway_s: int


@dataclass(frozen=True)
class LdapConfig:
    url: str
    starttls: bool
    ca_file: Path | None
    user_dn: str  # a template with {username}: bind directly
    bind_dn: str  # or search with this account
    bind_password: str
    user_base: str
    user_filter: str
    group_base: str
    group_filter: str


@dataclass(frozen=True)
class SignInConfig:
    local_login: bool
    policy: Policy
    oidc: OidcConfig | None
    ldap: LdapConfig | None


def signin_config(s: Settings) -> SignInConfig:
    """Return the sign-in configuration of these settings.

    Raises:
        SettingsError: a provider is half configured, or local accounts are off with no provider to sign in.
    """
    oidc = _oidc(s) if s.oidc_discovery_url else None
    ldap = _ldap(s) if s.ldap_url else None
    if not s.local_login and oidc is None and ldap is None:
        raise SettingsError("FOLDDECK_LOCAL_LOGIN=false leaves no way to sign in: set FOLDDECK_OIDC_DISCOVERY_URL "
                            "or FOLDDECK_LDAP_URL, or turn local accounts back on.")
    policy = Policy(login_group=s.sso_login_group, admin_group=s.sso_admin_group, create_users=s.sso_create_users)
    return SignInConfig(local_login=s.local_login, policy=policy, oidc=oidc, ldap=ldap)


def _oidc(s: Settings) -> OidcConfig:
    missing = [n for n, v in (("FOLDDECK_OIDC_CLIENT_ID", s.oidc_client_id),
                              ("FOLDDECK_OIDC_CLIENT_SECRET", s.oidc_client_secret)) if not v]
    if missing:
        raise SettingsError(f"FOLDDECK_OIDC_DISCOVERY_URL is set but {' and '.join(missing)} "
                            f"{'is' if len(missing) == 1 else 'are'} not; give the client registered at the provider.")
    return OidcConfig(discovery_url=s.oidc_discovery_url, client_id=s.oidc_client_id,
                      client_secret=s.oidc_client_secret, label=s.oidc_label or "your institution",
                      username_claim=s.oidc_username_claim, groups_claim=s.oidc_groups_claim or "groups",
                      ca_file=s.oidc_ca_file, leeway_s=s.oidc_leeway_s)


def _ldap(s: Settings) -> LdapConfig:
    if s.ldap_url.startswith("ldap://") and not s.ldap_starttls:
        raise SettingsError(f"FOLDDECK_LDAP_URL={s.ldap_url} would send passwords in clear text: use ldaps://, "
                            "or set FOLDDECK_LDAP_STARTTLS=true.")
    if not s.ldap_user_dn and not s.ldap_user_base:
        raise SettingsError("FOLDDECK_LDAP_URL is set but neither FOLDDECK_LDAP_USER_DN (bind as the user, e.g. "
                            "uid={username},ou=people,dc=lab,dc=example) nor FOLDDECK_LDAP_USER_BASE (search for "
                            "them) is.")
    for name, value in (("FOLDDECK_LDAP_USER_DN", s.ldap_user_dn), ("FOLDDECK_LDAP_USER_FILTER", s.ldap_user_filter)):
        if value and "{username}" not in value:
            raise SettingsError(f"{name}={value!r} must contain {{username}}.")
    if s.ldap_group_base and "{dn}" not in s.ldap_group_filter and "{username}" not in s.ldap_group_filter:
        raise SettingsError("FOLDDECK_LDAP_GROUP_FILTER must contain {dn} or {username}, e.g. (member={dn}).")
    return LdapConfig(url=s.ldap_url, starttls=s.ldap_starttls, ca_file=s.ldap_ca_file, user_dn=s.ldap_user_dn,
                      bind_dn=s.ldap_bind_dn, bind_password=s.ldap_bind_password, user_base=s.ldap_user_base,
                      user_filter=s.ldap_user_filter, group_base=s.ldap_group_base, group_filter=s.ldap_group_filter)
