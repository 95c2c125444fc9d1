"""REST API for the prompt tools under /api/prompts/: style presets, enhancement, history
and the variation/cost preview. The logic lives in prompt_tools, prompt_history and
prompt_enhance; these views check input and shape answers."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from generation import services
from generation.api import GenerateRequestSerializer
from generation.models import StylePreset
from generation.prompts import history as prompt_history
from generation.prompts import services as prompt_tools
from generation.prompts.enhance import enhance_prompt
from generation.usage.gate import PromptEnhanceThrottle
from imagegen.core import limits
from imagegen.core.exceptions import NotFound
from imagegen.core.schema import NOT_FOUND

# --- Style presets ---------------------------------------------------------------------------


class StylePresetSerializer(serializers.ModelSerializer):
    """A preset as the API shows it; ``editable`` says whether this user may change it."""

    builtin = serializers.BooleanField(source="is_builtin", read_only=True)
    owner = serializers.CharField(
        source="owner.get_username", read_only=True, default=None, allow_null=True
    )
    editable = serializers.SerializerMethodField()

    class Meta:
        model = StylePreset
        fields = [
            "id",
            "key",
            "name",
            "template",
            "negative_prompt",
            "builtin",
            "owner",
            "project",
            "editable",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_editable(self, style) -> bool:
        if hasattr(style, "editable"):  # annotated by visible_styles for a whole list
            return style.editable
        return StylePreset.objects.allows(self.context["request"].user, "change", style)


class StylePresetWriteSerializer(serializers.Serializer):
    """The body of POST/PUT/PATCH: field types and lengths; prompt_tools.save_style checks
    the rest (``{prompt}`` in the template, unique names, a project the user may edit)."""

    name = serializers.CharField(max_length=limits.MAX_STYLE_NAME)
    template = serializers.CharField(max_length=prompt_tools.MAX_STYLE_TEMPLATE)
    negative_prompt = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=limits.MAX_STYLE_NEGATIVE_PROMPT
    )
    project = serializers.IntegerField(required=False, allow_null=True, default=None)


def visible_styles(request):
    return (
        StylePreset.objects.for_user(request.user, "view")
        .select_related("owner")
        .with_permission(request.user, "change", "editable")
    )


class StylePresetListView(APIView):
    @extend_schema(responses={200: StylePresetSerializer(many=True)})
    def get(self, request):
        """Built-in presets, your own and those shared into your projects."""
        styles = visible_styles(request)
        return Response(StylePresetSerializer(styles, many=True, context={"request": request}).data)

    @extend_schema(request=StylePresetWriteSerializer, responses={201: StylePresetSerializer})
    def post(self, request):
        """Create a preset of your own (``project`` shares it into a project you edit)."""
        form = StylePresetWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        style = prompt_tools.save_style(request.user, form.validated_data)
        return Response(
            StylePresetSerializer(style, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class StylePresetDetailView(APIView):
    def get_object(self, request, pk):
        return get_object_or_404(visible_styles(request), pk=pk)

    @extend_schema(responses={200: StylePresetSerializer})
    def get(self, request, pk):
        style = self.get_object(request, pk)
        return Response(StylePresetSerializer(style, context={"request": request}).data)

    def _save(self, request, pk, partial):
        style = self.get_object(request, pk)
        form = StylePresetWriteSerializer(data=request.data, partial=partial)
        form.is_valid(raise_exception=True)
        # PATCH changes only the keys sent; PUT replaces all (defaults for missing optionals).
        data = {
            key: form.validated_data[key]
            for key in form.validated_data
            if not partial or key in request.data
        }
        style = prompt_tools.save_style(request.user, data, style)
        return Response(StylePresetSerializer(style, context={"request": request}).data)

    @extend_schema(request=StylePresetWriteSerializer, responses={200: StylePresetSerializer})
    def put(self, request, pk):
        return self._save(request, pk, partial=False)

    @extend_schema(request=StylePresetWriteSerializer, responses={200: StylePresetSerializer})
    def patch(self, request, pk):
        return self._save(request, pk, partial=True)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        style = self.get_object(request, pk)
        prompt_tools.delete_style(request.user, style)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Enhancement -----------------------------------------------------------------------------


class EnhanceRequestSerializer(serializers.Serializer):
    prompt = serializers.CharField(max_length=limits.MAX_ENHANCE_PROMPT)
    style = serializers.IntegerField(required=False, allow_null=True)
    provider = serializers.ChoiceField(
        choices=["openrouter", "openai"], required=False, allow_blank=True
    )
    model = serializers.CharField(
        required=False, allow_blank=True, max_length=limits.MAX_IDENTIFIER
    )


class EnhanceResponseSerializer(serializers.Serializer):
    prompt = serializers.CharField()
    model = serializers.CharField()
    provider = serializers.CharField()
    cost_usd = serializers.DecimalField(max_digits=12, decimal_places=6, allow_null=True)


class EnhanceView(APIView):
    # Per-user rate limit (PROMPT_ENHANCE_RATE); budgets are checked by enhance_prompt.
    throttle_classes = [PromptEnhanceThrottle]

    @extend_schema(request=EnhanceRequestSerializer, responses={200: EnhanceResponseSerializer})
    def post(self, request):
        """A more detailed prompt with the same subject, from a chat model paid with your
        OpenRouter or OpenAI key (or the team's). ``model`` must be one of the allowed models.
        Its cost counts against your and the team's monthly budgets. 400: fix something
        (key, credit, a model not allowed, a budget it would exceed); 429: too many requests;
        502: the provider failed. Errors are ``{detail}`` or field errors, in words."""
        form = EnhanceRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        style = prompt_tools.resolve_style(request.user, data.get("style"))
        result = enhance_prompt(
            request.user,
            data["prompt"],
            style=style,
            provider=data.get("provider") or None,
            model=data.get("model") or None,
        )
        return Response(EnhanceResponseSerializer(result).data)


# --- History ---------------------------------------------------------------------------------


class HistoryEntrySerializer(serializers.Serializer):
    id = serializers.CharField()
    prompt = serializers.CharField()
    negative_prompt = serializers.CharField()
    count = serializers.IntegerField()
    last_used = serializers.DateTimeField()


class HistoryView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="only prompts containing this"),
            OpenApiParameter("limit", int, description="1 to 100, default 20"),
        ],
        responses={
            200: inline_serializer("HistoryPage", {"results": HistoryEntrySerializer(many=True)})
        },
    )
    def get(self, request):
        """Your distinct prompts, most recently used first."""
        return self._search(request, request.query_params)

    @extend_schema(
        operation_id="api_prompts_history_search",
        request=inline_serializer(
            "HistorySearch",
            {
                "q": serializers.CharField(required=False, allow_blank=True),
                "limit": serializers.IntegerField(required=False),
            },
        ),
        responses={
            200: inline_serializer(
                "HistorySearchPage", {"results": HistoryEntrySerializer(many=True)}
            )
        },
    )
    def post(self, request):
        """The same search with `q` in the body: what the studio sends, so that what a person
        types never reaches a URL or an access log."""
        if not isinstance(request.data, dict):
            return Response(
                {"detail": 'Send a JSON object: {"q": ..., "limit": ...}.'},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return self._search(request, request.data)

    def _search(self, request, params):
        try:
            limit = int(params.get("limit", 20))
        except (TypeError, ValueError):
            return Response(
                {"limit": ["Give a whole number from 1 to 100."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        query = params.get("q", "")
        if not isinstance(query, str):
            return Response({"q": ["Give text."]}, status=status.HTTP_400_BAD_REQUEST)
        entries = prompt_history.prompt_history(request.user, query, limit)
        return Response({"results": HistoryEntrySerializer(entries, many=True).data})

    @extend_schema(operation_id="api_prompts_history_clear", responses={200: None})
    def delete(self, request):
        """Clear your whole history (your generations stay)."""
        return Response({"deleted": prompt_history.clear_history(request.user)})


class HistoryEntryView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, key):
        """Remove one entry from your history; another user's entry is a 404."""
        if not prompt_history.delete_history_entry(request.user, key):
            raise NotFound("No such history entry.")
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Variations and cost preview -------------------------------------------------------------


class PreviewResponseSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    prompts = serializers.ListField(child=serializers.CharField())
    negative_prompt = serializers.CharField()
    style = serializers.IntegerField(allow_null=True)
    estimate_usd = serializers.DecimalField(max_digits=14, decimal_places=6, allow_null=True)
    per_generation_usd = serializers.ListField(
        child=serializers.DecimalField(max_digits=12, decimal_places=6, allow_null=True)
    )


class VariationPreviewView(APIView):
    @extend_schema(
        request=GenerateRequestSerializer,
        responses={200: PreviewResponseSerializer, 404: NOT_FOUND},
    )
    def post(self, request):
        """What POST /api/generate with this body would queue: the final prompts, how many
        generations, and the cost estimate for all of them (null when unknown)."""
        form = GenerateRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        preview = services.preview_submission(request.user, form.validated_data)
        return Response(PreviewResponseSerializer(preview).data)
