"""Why an OpenID Connect sign-in failed: a reason, its HTTP status and the page's words.

A failure inside ``django.contrib.auth.authenticate`` is a ``PermissionDenied``, so Django
sends ``user_login_failed`` once (with the credentials masked); the sign-in views render it
as ``registration/oidc_failed.html`` with links to try again or sign in with a password.
The log line names the reason and a detail that never holds a token, code or secret.
"""

from django.core.exceptions import PermissionDenied

# reason: (HTTP status, title, what a person can read)
REASONS = {
    "unreachable": (
        502,
        "The sign-in provider cannot be reached",
        "The studio could not reach the identity provider, or it answered with an error. "
        "It may be down for a moment: try again, or ask an administrator.",
    ),
    "misconfigured": (
        502,
        "Single sign-on is not set up correctly",
        "The identity provider's configuration does not match the studio's. An administrator "
        "needs to check the OIDC settings.",
    ),
    "denied": (
        403,
        "The sign-in was cancelled or refused",
        "The identity provider did not let you sign in (you cancelled, or it refused access).",
    ),
    "provider_error": (
        400,
        "The identity provider refused the sign-in",
        "The identity provider answered with an error instead of signing you in.",
    ),
    "state": (
        400,
        "This sign-in link is not valid",
        "The answer from the identity provider does not belong to a sign-in started in this "
        "browser, or it was already used or has expired. Start again from the sign-in page.",
    ),
    "code": (
        400,
        "This sign-in was already used or has expired",
        "The identity provider refused the sign-in code: it was used before or is too old. "
        "Start again from the sign-in page.",
    ),
    "token": (
        400,
        "The identity provider's answer could not be verified",
        "The studio could not verify who you are from the identity provider's answer (its "
        "signature, audience, nonce or time did not check out). Nothing was changed.",
    ),
    "domain": (
        403,
        "This address may not sign in here",
        "Your account's email address is not in a domain this studio accepts, or the "
        "identity provider has not verified it. Ask an administrator if you need access.",
    ),
    "inactive": (
        403,
        "This account is disabled",
        "Your account in this studio is disabled. Ask an administrator.",
    ),
    "link": (
        400,
        "This link request is not valid",
        "Linking your account to the identity provider starts on the Settings page with your "
        "password, in this browser, as the same account, and must be finished within ten "
        "minutes. Start again from Settings.",
    ),
    "linked_elsewhere": (
        409,
        "That identity is linked to another account",
        "The account you signed in with at the identity provider already signs in to another "
        "account of this studio. Nothing was changed. Sign in at the provider with your own "
        "account, or ask an administrator.",
    ),
    "linked_other": (
        409,
        "Your account is already linked",
        "Your account is linked to another account at the identity provider. Nothing was "
        "changed: unlink it in Settings first.",
    ),
}


class SignInFailed(PermissionDenied):
    """An OpenID Connect sign-in that must not go on: ``reason`` is a key of REASONS;
    ``detail`` is for the log only and never holds a token, a code or a secret."""

    def __init__(self, reason: str, detail: str = ""):
        assert reason in REASONS, reason
        super().__init__(reason)
        self.reason = reason
        self.detail = detail

    @property
    def status_code(self) -> int:
        return REASONS[self.reason][0]
