"""OpenID Connect sign-in (authorization code with PKCE) with Authlib; ID tokens verified with joserfc.

`begin()` returns the provider's authorization URL and the `pending` values the web app keeps in the
person's session (state, nonce, PKCE verifier); `finish()` takes them with the callback's query, checks
`state` (and RFC 9207 `iss`), exchanges the code, verifies the ID token's signature against the provider's
published keys and its claims (issuer, audience, expiry and issue time with a leeway, nonce), and returns
who signed in. Every failure is a SignInUnavailable whose `detail` tells the admin what to check.
"""
from __future__ import annotations

import hmac
import time
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, JoseError
from joserfc.jwk import KeySet

from services.people.signin.admission import Identity
from services.people.signin.config import OidcConfig
from services.platform import defaults
from services.platform.errors import SignInRefused, SignInUnavailable

PROVIDER = "oidc"
SCOPE = "openid profile email"
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
UNAVAILABLE = ("Signing in with {label} is not working right now. The administrator has been told; please try "
               "again later.")
RESTART = "This sign-in was not started here, or it took too long. Please start again."


def _fail(cfg: OidcConfig, detail: str, message: str | None = None) -> SignInUnavailable:
    return SignInUnavailable(message or UNAVAILABLE.format(label=cfg.label), f"OIDC sign-in failed: {detail}")


def _verify(cfg: OidcConfig) -> str | bool:
    """Return what HTTPS is checked against, passed with each request: requests lets REQUESTS_CA_BUNDLE
    override a Session's own `verify`, which would drop FOLDDECK_OIDC_CA_FILE."""
    return str(cfg.ca_file) if cfg.ca_file else True


def _get_json(cfg: OidcConfig, url: str, what: str, **kwargs: Any) -> dict:
    """GET `url` and return its JSON object, or raise SignInUnavailable saying what went wrong where."""
    try:
        response = requests.get(url, timeout=defaults.SIGNIN_TIMEOUT_S, verify=_verify(cfg), **kwargs)
    except requests.exceptions.SSLError as exc:
        raise _fail(cfg, f"the TLS certificate of {url} ({what}) was refused: {exc}; check the provider's "
                         "certificate and FOLDDECK_OIDC_CA_FILE") from None
    except requests.RequestException as exc:
        raise _fail(cfg, f"the provider's {what} at {url} cannot be reached ({type(exc).__name__}: {exc})") from None
    if response.status_code != 200:
        raise _fail(cfg, f"the provider's {what} at {url} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _fail(cfg, f"the provider's {what} at {url} did not answer a JSON object")
    return body


def discover(cfg: OidcConfig) -> dict:
    """Return the provider's metadata (issuer and endpoints) from the discovery URL."""
    meta = _get_json(cfg, cfg.discovery_url, "discovery document (FOLDDECK_OIDC_DISCOVERY_URL)")
    missing = [k for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri") if not meta.get(k)]
    if missing:
        raise _fail(cfg, f"the discovery document at {cfg.discovery_url} lacks {', '.join(missing)}")
    return meta


def _client(cfg: OidcConfig, redirect_uri: str, scope: str = SCOPE) -> OAuth2Session:
    client = OAuth2Session(cfg.client_id, cfg.client_secret, scope=scope, redirect_uri=redirect_uri,
                           code_challenge_method="S256", default_timeout=defaults.SIGNIN_TIMEOUT_S)
    return client


def _scope(cfg: OidcConfig, meta: dict) -> str:
    """Return the scopes to ask for: ours, plus the groups claim's scope where the provider offers one."""
    offered = meta.get("scopes_supported") or []
    return SCOPE + (f" {cfg.groups_claim}" if cfg.groups_claim in offered else "")


def begin(cfg: OidcConfig, redirect_uri: str) -> tuple[str, dict]:
    """Return (the provider's authorization URL, the pending values to keep until the callback)."""
    meta = discover(cfg)
    pending = {"state": generate_token(32), "nonce": generate_token(32), "verifier": generate_token(64),
               "issuer": meta["issuer"], "at": time.time()}
    url, _ = _client(cfg, redirect_uri, _scope(cfg, meta)).create_authorization_url(
        meta["authorization_endpoint"], state=pending["state"], nonce=pending["nonce"],
        code_verifier=pending["verifier"])
    return url, pending


def _check_callback(cfg: OidcConfig, pending: dict | None, params: dict, meta: dict) -> None:
    """Refuse a callback that this browser did not start, that came too late, or from another issuer."""
    if params.get("error"):
        if params["error"] in ("access_denied", "login_required", "consent_required"):
            raise SignInRefused(f"{cfg.label} did not sign you in ({params['error']}).")
        raise _fail(cfg, f"the provider answered error={params['error']!r} "
                         f"({params.get('error_description', 'no description')})")
    state = params.get("state") or ""
    if not pending or not hmac.compare_digest(str(pending.get("state", "")), state):
        raise _fail(cfg, "the callback's state does not match the one this browser was sent with (a forged or "
                         "replayed callback, or a sign-in finished in another tab)", RESTART)
    if time.time() - float(pending.get("at", 0)) > defaults.OIDC_PENDING_MAX_AGE_S:
        raise _fail(cfg, f"the callback came more than {defaults.OIDC_PENDING_MAX_AGE_S} s after the sign-in "
                         "started", RESTART)
    if params.get("iss") and params["iss"] != meta["issuer"]:  # RFC 9207: a mix-up attack names another issuer
        raise _fail(cfg, f"the callback names issuer {params['iss']!r}, not {meta['issuer']!r}")
    if not params.get("code"):
        raise _fail(cfg, "the callback carries no authorization code")


def _exchange(cfg: OidcConfig, meta: dict, redirect_uri: str, pending: dict, code: str) -> dict:
    """Return the token response for the authorization code (client secret and PKCE verifier sent)."""
    try:
        return _client(cfg, redirect_uri).fetch_token(meta["token_endpoint"], code=code,
                                                      code_verifier=pending["verifier"], verify=_verify(cfg))
    except OAuthError as exc:
        hint = ("; check FOLDDECK_OIDC_CLIENT_ID and FOLDDECK_OIDC_CLIENT_SECRET against the client registered "
                "at the provider") if exc.error in ("invalid_client", "unauthorized_client") else ""
        raise _fail(cfg, f"the token endpoint refused the code: {exc.error} ({exc.description}){hint}") from None
    except requests.RequestException as exc:
        raise _fail(cfg, f"the token endpoint {meta['token_endpoint']} cannot be reached ({exc})") from None


def verify_id_token(cfg: OidcConfig, meta: dict, id_token: str, nonce: str, now: float | None = None) -> dict:
    """Return the ID token's claims once its signature and claims check out.

    Raises:
        SignInUnavailable: bad signature, wrong issuer or audience, nonce mismatch, expired, issued in the future.
    """
    published = _get_json(cfg, meta["jwks_uri"], "signing keys (jwks_uri)")
    try:
        keys = KeySet.import_key_set(published)
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise _fail(cfg, f"the provider's signing keys at {meta['jwks_uri']} cannot be read ({exc})") from None
    try:
        token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
    except BadSignatureError:
        raise _fail(cfg, "the ID token's signature does not verify against the provider's published keys "
                         f"({meta['jwks_uri']}): a tampered token, or keys the provider does not publish") from None
    except (JoseError, ValueError) as exc:
        raise _fail(cfg, f"the ID token cannot be read or verified ({type(exc).__name__}: {exc})") from None
    clock = time.time() if now is None else now
    registry = jwt.JWTClaimsRegistry(now=int(clock), leeway=cfg.leeway_s,
                                     iss={"essential": True, "value": meta["issuer"]},
                                     aud={"essential": True, "value": cfg.client_id},
                                     sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
                                     nonce={"essential": True, "value": nonce})
    claims = token.claims
    try:
        registry.validate(claims)
    except (ExpiredTokenError, ClaimError) as exc:
        raise _fail(cfg, _claim_problem(cfg, exc, claims, clock)) from None
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != cfg.client_id:
        raise _fail(cfg, f"the ID token is for several audiences and its azp is {claims.get('azp')!r}, not ours")
    return claims


def _claim_problem(cfg: OidcConfig, exc: JoseError, claims: dict, clock: float) -> str:
    """Say which claim failed, and for times how far apart the clocks are."""
    name = "exp" if isinstance(exc, ExpiredTokenError) else (getattr(exc, "claim", "") or "")
    if name in ("exp", "iat", "nbf"):
        stamp = claims.get(name)
        gap = f" ({abs(int(clock - float(stamp)))} s from FoldDeck's clock)" if isinstance(stamp, (int, float)) else ""
        return (f"the ID token's times do not fit FoldDeck's clock: {exc.description}{gap}; the clocks of FoldDeck "
                f"and the provider differ by more than FOLDDECK_OIDC_LEEWAY_S={cfg.leeway_s} s: check NTP on both")
    return f"the ID token's claim {name or '?'} is wrong: {exc.description}"


def _userinfo(cfg: OidcConfig, meta: dict, access_token: str | None, sub: str) -> dict:
    """Return the userinfo claims (some providers put groups only there), or {} when there are none to trust."""
    if not meta.get("userinfo_endpoint") or not access_token:
        return {}
    info = _get_json(cfg, meta["userinfo_endpoint"], "userinfo endpoint",
                     headers={"Authorization": f"Bearer {access_token}"})
    return info if info.get("sub") == sub else {}  # OIDC Core 5.3.2: another sub must not be used


def finish(cfg: OidcConfig, redirect_uri: str, pending: dict | None, params: dict,
           now: float | None = None) -> tuple[Identity, str, dict]:
    """Return (who signed in, their ID token, the provider metadata) for the callback's query `params`.

    Raises:
        SignInUnavailable: wrong state, a provider error, a refused code or client, an ID token that fails.
        SignInRefused: the provider did not sign the person in (they cancelled).
    """
    meta = discover(cfg)
    _check_callback(cfg, pending, params, meta)
    tokens = _exchange(cfg, meta, redirect_uri, pending, params["code"])
    id_token = tokens.get("id_token")
    if not id_token:
        raise _fail(cfg, "the token response has no id_token (is the 'openid' scope allowed for this client?)")
    claims = verify_id_token(cfg, meta, id_token, pending["nonce"], now)
    claims = {**_userinfo(cfg, meta, tokens.get("access_token"), claims["sub"]), **claims}
    return _identity(cfg, claims), id_token, meta


def _identity(cfg: OidcConfig, claims: dict) -> Identity:
    username = claims.get(cfg.username_claim)
    if not isinstance(username, str) or not username.strip():
        raise _fail(cfg, f"the ID token has no {cfg.username_claim!r} claim to name the FoldDeck user by "
                         "(FOLDDECK_OIDC_USERNAME_CLAIM); map it at the provider or choose another claim")
    groups = claims.get(cfg.groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    return Identity(provider=PROVIDER, subject=str(claims["sub"]), username=username.strip(),
                    email=str(claims.get("email") or ""), groups=frozenset(str(g) for g in groups))


def logout_url(meta: dict, id_token: str, client_id: str, after: str) -> str | None:
    """Return the provider's end-session URL that comes back to `after`, or None where it has none."""
    endpoint = meta.get("end_session_endpoint")
    if not endpoint:
        return None
    from urllib.parse import urlencode

    sep = "&" if "?" in endpoint else "?"
    return endpoint + sep + urlencode({"id_token_hint": id_token, "client_id": client_id,
                                       "post_logout_redirect_uri": after})
