"""Authentication backends: OpenID Connect sign-in, and the gate that OIDC_ONLY puts in
front of passwords.

``OidcBackend`` is mozilla-django-oidc's backend with four changes:

- it answers only the callback view's credentials (``oidc_token_request``), so it is inert
  for password sign-ins and while OIDC is off, and it reads its endpoints from the provider's
  discovery document (settings_app/oidc/config.py) instead of fixed settings;
- the ID token is checked completely: an asymmetric signature by a key of the provider's
  JWKS, ``iss`` (the discovery document's issuer), ``aud`` (our client; ``azp`` when there
  are several), ``exp`` and ``iat`` (one minute of clock skew), and the nonce (the library
  checks the signature and ``exp`` only);
- accounts are found by the (issuer, subject) link, never by email (accounts.py);
- every failure raises ``SignInFailed`` (a PermissionDenied: Django sends
  ``user_login_failed`` once, credentials masked) and is kept on the request for the view
  to show.
"""

from urllib.parse import quote

import jwt
import requests
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from requests.auth import HTTPBasicAuth

from settings_app.oidc import accounts
from settings_app.oidc.config import SIGNING_ALGORITHMS, ProviderInfo, current, provider_info
from settings_app.oidc.errors import SignInFailed

# The credential the callback view passes to authenticate(). Its name contains "token", so
# Django masks its value in user_login_failed (nonce and PKCE verifier never reach a log).
CREDENTIAL = "oidc_token_request"
CLOCK_SKEW_SECONDS = 60


def library_setting(attr, *args):
    """mozilla-django-oidc's settings, from ours (OIDC_* env and discovery)."""
    conf = current()
    values = {
        "OIDC_RP_CLIENT_ID": conf.client_id,
        "OIDC_RP_CLIENT_SECRET": conf.client_secret,
        "OIDC_RP_SCOPES": conf.scopes,
        "OIDC_USE_PKCE": True,
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
        "OIDC_USE_NONCE": True,
        "OIDC_STORE_ID_TOKEN": True,  # the id_token_hint of RP-initiated logout
        "OIDC_STORE_ACCESS_TOKEN": False,
        "OIDC_TIMEOUT": conf.timeout,
        "OIDC_VERIFY_SSL": True,
        "OIDC_CREATE_USER": True,
        "OIDC_ALLOW_UNSECURED_JWT": False,
        "OIDC_AUTHENTICATION_CALLBACK_URL": "oidc_authentication_callback",
    }
    if attr in values:
        return values[attr]
    return import_from_settings(attr, *args)


class OidcBackend(OIDCAuthenticationBackend):
    """Signs in the person the provider vouches for (see the module docstring)."""

    get_settings = staticmethod(library_setting)

    def __init__(self, *args, **kwargs):
        # The library reads fixed endpoint settings here; ours come from discovery, at the
        # first sign-in, so nothing is read until authenticate() is called with our credential.
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        flow = kwargs.get(CREDENTIAL)
        if flow is None or request is None:
            return None
        conf = current()
        if not conf.enabled:
            return None
        try:
            info = provider_info(conf)
            self._configure(conf, info)
            return super().authenticate(
                request, nonce=flow["nonce"], code_verifier=flow["code_verifier"]
            )
        except SignInFailed as failure:
            request.oidc_failure = failure  # the callback view shows it (and logs it)
            raise

    def _configure(self, conf, info: ProviderInfo) -> None:
        self.conf = conf
        self.info = info
        self.OIDC_OP_TOKEN_ENDPOINT = info.token_endpoint
        self.OIDC_OP_USER_ENDPOINT = info.userinfo_endpoint
        self.OIDC_OP_JWKS_ENDPOINT = info.jwks_uri
        self.OIDC_RP_CLIENT_ID = conf.client_id
        self.OIDC_RP_CLIENT_SECRET = conf.client_secret
        self.OIDC_RP_IDP_SIGN_KEY = None

    # --- The token request ---------------------------------------------------------------

    def get_token(self, payload):
        """The token endpoint's answer for the code. The client authenticates as the provider
        prefers (client_secret_basic, id and secret form-encoded as RFC 6749 2.3.1 asks; else
        client_secret_post)."""
        auth = None
        if self.info.token_auth_basic:
            auth = HTTPBasicAuth(
                quote(payload.pop("client_id"), safe=""),
                quote(payload.pop("client_secret"), safe=""),
            )
        try:
            response = requests.post(
                self.OIDC_OP_TOKEN_ENDPOINT,
                data=payload,
                auth=auth,
                timeout=self.conf.timeout,
                headers={"Accept": "application/json"},
            )
        except requests.RequestException as exc:
            raise SignInFailed("unreachable", f"token endpoint: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise SignInFailed("unreachable", f"token endpoint answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200:
            error = body.get("error") if isinstance(body, dict) else None
            # invalid_grant: the code was used before, expired, or belongs to another
            # verifier or redirect URI; the provider's word names which.
            reason = "code" if error == "invalid_grant" else "misconfigured"
            raise SignInFailed(reason, f"token endpoint: {response.status_code} {error}")
        if not isinstance(body, dict) or not isinstance(body.get("id_token"), str):
            raise SignInFailed("token", "token endpoint answered no id_token")
        return body

    # --- The ID token --------------------------------------------------------------------

    def verify_token(self, token, **kwargs):
        """The ID token's claims once every check passed (module docstring)."""
        if not isinstance(token, str):
            raise SignInFailed("token", "no id_token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise SignInFailed("token", f"malformed id_token: {type(exc).__name__}") from exc
        alg = header.get("alg")
        if alg not in SIGNING_ALGORITHMS:
            raise SignInFailed("token", f"id_token signed with {alg!r}")
        key = self._signing_key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.conf.client_id,
                issuer=self.info.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.InvalidTokenError as exc:
            # The exception's name says which check failed (InvalidAudienceError,
            # ExpiredSignatureError, InvalidSignatureError...); never the token.
            raise SignInFailed("token", f"id_token refused: {type(exc).__name__}") from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.conf.client_id:
            raise SignInFailed("token", "id_token for several audiences without our azp")
        if kwargs.get("nonce") is None or claims.get("nonce") != kwargs["nonce"]:
            raise SignInFailed("token", "id_token nonce mismatch")
        return claims

    def _signing_key(self, token):
        try:
            return self.retrieve_matching_jwk(token)
        except requests.RequestException as exc:
            raise SignInFailed("unreachable", f"jwks: {type(exc).__name__}") from exc
        except (SuspiciousOperation, KeyError, ValueError, jwt.PyJWTError) as exc:
            raise SignInFailed("token", f"no matching signing key: {type(exc).__name__}") from exc

    # --- The account ---------------------------------------------------------------------

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims, completed by the userinfo endpoint's when the provider has
        one (same subject required)."""
        claims = dict(payload)
        if not self.OIDC_OP_USER_ENDPOINT or not access_token:
            return claims
        try:
            info = super().get_userinfo(access_token, id_token, payload)
        except requests.RequestException as exc:
            raise SignInFailed("unreachable", f"userinfo: {type(exc).__name__}") from exc
        except ValueError as exc:
            raise SignInFailed("token", "userinfo is not JSON") from exc
        if not isinstance(info, dict) or info.get("sub") != payload.get("sub"):
            raise SignInFailed("token", "userinfo names another subject")
        claims.update(info)
        return claims

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        # A link the signed-in owner asked for (CallbackView sets it from the started flow).
        link_to = getattr(self.request, "oidc_link_to", None)
        return accounts.sign_in(self.info.issuer, claims, self.conf, link_to=link_to)

    def filter_users_by_claims(self, claims):
        # Never by email: see accounts.sign_in (the only way in).
        return self.UserModel.objects.none()

    def get_user(self, user_id):
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None


class PasswordGate:
    """With OIDC_ONLY, a password signs in only a superuser (the first admin and any other),
    so a broken provider never locks the team out while everyone else uses the provider.
    Covers every password form (the login page, the admin's, the browsable API's, and
    POST /api/auth/token). Never signs anyone in itself."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None or not current().only:
            return None
        UserModel = get_user_model()
        user = UserModel._default_manager.filter(**{UserModel.USERNAME_FIELD: username}).first()
        if user is not None and user.is_superuser:
            return None  # ModelBackend checks the password
        # Hash the password anyway, as ModelBackend does for an unknown name: a refusal that
        # answers faster than a superuser's check would tell which names are superusers.
        UserModel().set_password(password)
        raise PermissionDenied("OIDC_ONLY: password sign-in is for superusers")

    # No get_user: Django's test client (force_login) and login() without a backend take the
    # first backend that has one, which must stay ModelBackend.
