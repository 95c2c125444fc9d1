"""API token endpoints: hashed, expiring, revocable tokens (django-rest-knox)."""

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in, user_login_failed
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from imagegen.core import limits
from imagegen.core.exceptions import Forbidden
from imagegen.core.schema import VALIDATION_ERROR, error_response
from settings_app import two_factor
from settings_app.services import create_named_token

# The scheme of the Authorization header the API takes (knox's AUTH_HEADER_PREFIX).
TOKEN_CHALLENGE = 'Token realm="api"'


class LoginThrottle(AnonRateThrottle):
    rate = "20/min"


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=limits.MAX_USERNAME)
    password = serializers.CharField(
        trim_whitespace=False, max_length=limits.MAX_PASSWORD, style={"input_type": "password"}
    )
    code = serializers.CharField(
        required=False,
        max_length=32,
        help_text="For an account with two-factor sign-in: a current code from its "
        "authenticator app (or a recovery code, which this spends).",
    )


TokenSerializer = inline_serializer(
    "Token", {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()}
)


def issue_token(user, name: str) -> tuple[str, object]:
    """A new named token for the user (listed and revocable under Settings); the plaintext
    exists only in this return value."""
    named, token = create_named_token(user, name[:100])
    return token, named.token.expiry


class TokenView(APIView):
    """Exchange a username and password for an API token."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [LoginThrottle]

    @extend_schema(
        request=CredentialsSerializer,
        responses={
            200: TokenSerializer,
            400: VALIDATION_ERROR,
            401: error_response(
                "Wrong username or password (or the account is inactive), or a missing or "
                "wrong two-factor code."
            ),
            403: error_response(
                "MFA_REQUIRED_FOR_STAFF is on and this staff account has not set up "
                "two-factor sign-in yet."
            ),
            429: error_response("Too many failed logins for this username from this address."),
        },
        description="400: a field is missing or too long (field errors). 401: the username "
        "and password do not match an active account, or the account has two-factor sign-in "
        "and `code` is missing or wrong. 403: a staff account without two-factor sign-in "
        "while MFA_REQUIRED_FOR_STAFF is on (it sets it up under Settings first). 429: "
        "locked out after too many failures (django-axes), or throttled.",
    )
    def post(self, request):
        form = CredentialsSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = authenticate(
            request,
            username=form.validated_data["username"],
            password=form.validated_data["password"],
        )
        if getattr(request, "axes_locked_out", False):
            # django-axes refused: too many failures for this username from this address.
            return Response(
                {"detail": "Too many failed logins; try again later."},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        if user is None or not user.is_active:
            # 401, not 400: the request was well formed, the credentials are not valid. The
            # challenge names the scheme the issued tokens are used with.
            return Response(
                {"detail": "Wrong username or password."},
                status=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": TOKEN_CHALLENGE},
            )
        if two_factor.is_enabled(user):
            # The password alone must not buy a token the second factor would have refused.
            code = form.validated_data.get("code", "")
            if not code or not two_factor.verify(user, code).ok:
                if code:
                    user_login_failed.send(
                        sender=__name__,
                        credentials={"username": user.get_username()},
                        request=request,
                    )
                return Response(
                    {
                        "detail": "This account uses two-factor sign-in: send a current "
                        "code from its authenticator app as `code`."
                    },
                    status=status.HTTP_401_UNAUTHORIZED,
                    headers={"WWW-Authenticate": TOKEN_CHALLENGE},
                )
        if (
            settings.MFA_REQUIRED_FOR_STAFF
            and user.is_staff
            and two_factor.applies(user, getattr(user, "backend", None))
            and not two_factor.is_enabled(user)
        ):
            # The pages send such a session to the set-up; a token would skip it for good.
            raise Forbidden(
                "Set up two-factor sign-in first: staff must use it here "
                "(Settings → Two-factor sign-in)."
            )
        # As knox's own login view does: records last_login and clears django-axes' failures.
        user_logged_in.send(sender=user.__class__, request=request, user=user)
        agent = request.headers.get("User-Agent", "").split(" ")[0][:40] or "a client"
        token, expires_at = issue_token(user, f"Signed in with a password ({agent})")
        return Response({"token": token, "expires_at": expires_at})
