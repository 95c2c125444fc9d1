"""REST API for settings: preferences and limits, provider keys, key tests, API tokens.

A key's plaintext goes in (POST) and never comes out: every answer shows the masked form.
"""

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from imagegen.core import limits
from imagegen.core.exceptions import NotFound
from projects.models import Project
from settings_app import services
from settings_app.models import ApiKey, NamedToken, Preferences, Theme


class LastTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    status = serializers.CharField(allow_null=True)
    label = serializers.CharField()
    message = serializers.CharField()
    at = serializers.DateTimeField()


class ApiKeySerializer(serializers.ModelSerializer):
    """A stored key as shown: masked, with its use and test history."""

    last_test = LastTestSerializer(read_only=True, allow_null=True)

    class Meta:
        model = ApiKey
        fields = ["provider", "masked", "created_at", "updated_at", "last_used_at", "last_test"]
        read_only_fields = fields


class ApiKeyInputSerializer(serializers.Serializer):
    """The body of POST /api/settings/api-keys; the format is checked per provider."""

    provider = serializers.CharField(max_length=limits.MAX_IDENTIFIER)
    # No trimming here, and only an outer length limit: the service checks and words every
    # problem (a key longer than services.MAX_KEY_LENGTH included).
    api_key = serializers.CharField(
        trim_whitespace=False,
        allow_blank=True,
        write_only=True,
        max_length=limits.MAX_API_KEY_INPUT,
        style={"input_type": "password"},
    )


def visible_keys(request):
    # The encrypted column is never needed to show a key: masked comes from last4.
    return ApiKey.objects.for_user(request.user, "view").defer("secret")


class ApiKeyListView(APIView):
    """List your provider keys (masked) or store one."""

    @extend_schema(responses={200: ApiKeySerializer(many=True)})
    def get(self, request):
        return Response(ApiKeySerializer(visible_keys(request), many=True).data)

    @extend_schema(
        request=ApiKeyInputSerializer, responses={200: ApiKeySerializer, 201: ApiKeySerializer}
    )
    def post(self, request):
        form = ApiKeyInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)  # DRF's messages never echo the input
        stored, created = services.save_api_key(
            request.user, form.validated_data["provider"], form.validated_data["api_key"]
        )
        return Response(
            ApiKeySerializer(stored).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ApiKeyDetailView(APIView):
    """Remove your key for one provider."""

    @extend_schema(responses={204: None})
    def delete(self, request, provider):
        if not services.delete_api_key(request.user, provider):
            raise NotFound(f"You have no stored key for {provider!r}.")
        return Response(status=status.HTTP_204_NO_CONTENT)


ConnectionSerializer = inline_serializer(
    "ConnectionResult",
    {
        "ok": serializers.BooleanField(),
        "status": serializers.ChoiceField(
            choices=["valid", "invalid", "restricted", "unverified", "no_credit", ""],
            help_text="What the check found; empty when there was no key to check.",
        ),
        "message": serializers.CharField(),
        "latency_ms": serializers.IntegerField(allow_null=True),
        "key_source": serializers.CharField(),
    },
)


class ConnectionTestView(APIView):
    """Check the key you would generate with against the provider; the answer is stored on
    the key."""

    @extend_schema(
        parameters=[OpenApiParameter("provider", required=True)],
        responses={200: ConnectionSerializer},
    )
    def get(self, request):
        provider = request.query_params.get("provider", "")
        if not provider:
            raise ValidationError(
                {"provider": ["Name the provider to test, e.g. ?provider=openai."]}
            )
        result = services.check_connection(request.user, provider)
        return Response(
            {
                "ok": result.ok,
                "status": result.status,
                "message": result.message,
                "latency_ms": result.latency_ms,
                "key_source": result.source,
            }
        )


def effective_limits() -> dict:
    """The server's limits a member may read but not change: its defaults.
    ``generation_max_concurrent`` is the default per user; a user's own numbers (their
    groups' policies and per-user values applied) are ``GET /api/dashboard/budget``'s
    ``limits``, which this layer cannot resolve (generation.usage.policy is above it)."""
    return {
        "generation_max_concurrent": settings.GENERATION_MAX_CONCURRENT,
        "generation_timeout": settings.GENERATION_TIMEOUT,
        "max_image_size": settings.MAX_IMAGE_SIZE,
        "max_image_pixels": settings.MAX_IMAGE_PIXELS,
        "items_per_page_default": settings.ITEMS_PER_PAGE,
        "allow_signup": settings.ALLOW_SIGNUP,
        "api_token_ttl_days": settings.API_TOKEN_TTL_DAYS,
    }


class PreferencesSerializer(serializers.ModelSerializer):
    """Preferences as read and written; ``limits`` and ``team_keys`` are read-only."""

    theme = serializers.ChoiceField(choices=Theme.choices, required=False)
    default_project = serializers.PrimaryKeyRelatedField(
        queryset=Preferences.default_project.field.related_model.objects.none(),
        allow_null=True,
        required=False,
    )
    limits = serializers.SerializerMethodField()
    team_keys = serializers.SerializerMethodField()

    class Meta:
        model = Preferences
        fields = [*services.PREFERENCE_FIELDS, "updated_at", "limits", "team_keys"]
        read_only_fields = ["updated_at"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)

        self.user = user
        if user is not None:  # None only when the schema generator inspects the fields
            self.fields["default_project"].queryset = Project.objects.for_user(user, "contribute")

    def get_limits(self, prefs) -> dict:
        return effective_limits()

    def get_team_keys(self, prefs) -> list[dict]:
        return services.team_key_availability(self.user)


class PreferencesView(APIView):
    """Your preferences and the server's limits (its defaults: your own, with your groups'
    policies and per-user values, are `GET /api/dashboard/budget`'s `limits`)."""

    @extend_schema(responses={200: PreferencesSerializer})
    def get(self, request):
        prefs = Preferences.for_user(request.user)
        return Response(PreferencesSerializer(prefs, user=request.user).data)

    @extend_schema(request=PreferencesSerializer, responses={200: PreferencesSerializer})
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(request=PreferencesSerializer, responses={200: PreferencesSerializer})
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, partial):
        prefs = Preferences.for_user(request.user)
        form = PreferencesSerializer(prefs, data=request.data, partial=partial, user=request.user)
        form.is_valid(raise_exception=True)
        prefs = services.update_preferences(request.user, dict(form.validated_data))
        return Response(PreferencesSerializer(prefs, user=request.user).data)


class NamedTokenSerializer(serializers.ModelSerializer):
    prefix = serializers.CharField(source="token.token_key", read_only=True)
    expires_at = serializers.DateTimeField(source="token.expiry", read_only=True)

    class Meta:
        model = NamedToken
        fields = ["id", "name", "prefix", "created_at", "expires_at"]
        read_only_fields = ["id", "prefix", "created_at", "expires_at"]


class NewNamedTokenSerializer(NamedTokenSerializer):
    token = serializers.SerializerMethodField()

    class Meta(NamedTokenSerializer.Meta):
        fields = [*NamedTokenSerializer.Meta.fields, "token"]

    def get_token(self, named) -> str:
        return self.context["plaintext"]


def visible_tokens(request):
    return NamedToken.objects.for_user(request.user, "view").select_related("token")


class TokenListView(APIView):
    """Your named API tokens; create one (its plaintext is shown in this answer only)."""

    @extend_schema(responses={200: NamedTokenSerializer(many=True)})
    def get(self, request):
        return Response(NamedTokenSerializer(visible_tokens(request), many=True).data)

    @extend_schema(request=NamedTokenSerializer, responses={201: NewNamedTokenSerializer})
    def post(self, request):
        form = NamedTokenSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        named, plaintext = services.create_named_token(request.user, form.validated_data["name"])
        return Response(
            NewNamedTokenSerializer(named, context={"plaintext": plaintext}).data,
            status=status.HTTP_201_CREATED,
        )


class TokenDetailView(APIView):
    """Revoke one of your tokens."""

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        services.revoke_token(get_object_or_404(visible_tokens(request), pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
