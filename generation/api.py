"""REST API for generations: submit, read, list, cancel."""

from django.db.models.manager import BaseManager
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from gallery.api import ImageSerializer
from gallery.lineage import described_by_generation
from generation import services, uploads
from generation.models import Generation, Status
from generation.progress import Progress, progress_for
from generation.usage.policy import effective_limits, offered_models
from imagegen.core import limits
from imagegen.core.links import absolute_url, request_of
from imagegen.core.schema import CONFLICT, NOT_FOUND, TOO_MANY
from imagegen.providers import all_providers
from imagegen.providers.catalog import listed_specs
from imagegen.providers.cloud import CloudProvider
from settings_app.keys import has_usable_key

MAX_NEGATIVE_PROMPT = limits.MAX_NEGATIVE_PROMPT


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "description": "the id of an image you may view"},
            {"type": "string", "description": "data:image/png;base64,…"},
            {"type": "string", "format": "binary", "description": "a PNG (multipart)"},
        ]
    }
)
class MaskField(serializers.Field):
    """An image id, a ``data:image/png;base64,…`` URI or (multipart) an uploaded PNG; checked
    by generation.inputs."""

    def to_internal_value(self, data):
        if hasattr(data, "read") or isinstance(data, int | str) and not isinstance(data, bool):
            return data
        raise serializers.ValidationError("Give the mask as an image id or a PNG.")

    def to_representation(self, value):
        return value


class GenerateRequestSerializer(serializers.Serializer):
    """The body of POST /api/generate. Ranges are checked against the chosen model.

    Image operations (docs/image-operations.md): ``operation`` (generate by default, edit,
    inpaint, outpaint, upscale, remove_background), ``input_images`` (ids of images you may
    view), ``mask`` (inpaint: an image id, a PNG data URI or a multipart file; white =
    change), ``strength``, ``scale`` (upscale: 2 or 4) and ``outpaint`` ({left, top, right,
    bottom} pixels, or {aspect_ratio: "16:9"})."""

    prompt = serializers.CharField(
        trim_whitespace=True,
        max_length=limits.MAX_PROMPT,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required except for upscale, remove_background and outpaint.",
    )
    negative_prompt = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_NEGATIVE_PROMPT
    )
    provider = serializers.CharField(
        required=False, allow_blank=True, max_length=limits.MAX_IDENTIFIER
    )
    model = serializers.CharField(
        required=False, allow_blank=True, max_length=limits.MAX_IDENTIFIER
    )
    width = serializers.IntegerField(required=False, min_value=1)
    height = serializers.IntegerField(required=False, min_value=1)
    num_images = serializers.IntegerField(required=False, min_value=1, max_value=4, default=1)
    steps = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    cfg_scale = serializers.FloatField(required=False, allow_null=True, min_value=0)
    seed = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    project = serializers.IntegerField(required=False, allow_null=True)
    params = serializers.DictField(required=False, default=dict)
    style = serializers.IntegerField(required=False, allow_null=True)  # a style preset's id
    operation = serializers.CharField(required=False, allow_blank=True, max_length=40)
    input_images = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=16
    )
    mask = MaskField(required=False, allow_null=True)
    strength = serializers.FloatField(required=False, allow_null=True)
    scale = serializers.IntegerField(required=False, allow_null=True)
    outpaint = serializers.DictField(required=False, allow_null=True)


class ImageSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    def get_url(self, image) -> str:
        return absolute_url(request_of(self), "image-file", image.pk)

    def get_thumbnail_url(self, image) -> str:
        return absolute_url(request_of(self), "image-thumbnail", image.pk)


class InputSerializer(serializers.Serializer):
    """One input of a generation (a gallery.lineage.Parent): the image's id where you may
    know it, its role and its state, as the gallery's lineage says them."""

    image = serializers.IntegerField(allow_null=True)
    role = serializers.CharField(source="row.role")
    state = serializers.CharField(
        help_text="present, deleted, hidden (no longer yours to see) or drawn (a mask)"
    )
    width = serializers.IntegerField(source="row.width")
    height = serializers.IntegerField(source="row.height")


class GenerationListSerializer(serializers.ListSerializer):
    """Computes the page's progress (generation.progress) and its inputs' lineage states in
    one batch each before serializing."""

    def to_representation(self, data):
        items = list(data.all() if isinstance(data, BaseManager) else data)
        self.context.setdefault("progress", progress_for(items))
        self.context.setdefault("parents", described_by_generation(request_of(self).user, items))
        return super().to_representation(items)


class GenerationSerializer(serializers.ModelSerializer):
    error = serializers.CharField(read_only=True)
    images = ImageSummarySerializer(many=True, read_only=True)
    inputs = serializers.SerializerMethodField()
    queue_position = serializers.SerializerMethodField(
        help_text="1 for the next of your queued generations to start; null unless queued."
    )
    waiting_reason = serializers.SerializerMethodField(
        help_text="Why a queued generation has not started (e.g. 'waiting: 3 of 3 of your "
        "generations running'); null unless queued."
    )
    elapsed_ms = serializers.SerializerMethodField(
        help_text="Milliseconds since it was submitted (until it finished, once finished)."
    )
    eta_ms = serializers.SerializerMethodField(
        help_text="Estimated milliseconds until it finishes, from the model's recent median "
        "run time; null when unknown or finished."
    )
    progress = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="How far it is, 0 to 1, for providers that report steps (ComfyUI, "
        "AUTOMATIC1111); null when the provider reports none.",
    )
    gpu_seconds = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="GPU time on the team's own backend (its own timing where reported, else "
        "the run time); null for cloud providers.",
    )
    backend = serializers.SlugRelatedField(
        slug_field="name",
        read_only=True,
        allow_null=True,
        help_text="The name of the team's GPU backend that ran it; null for cloud providers.",
    )

    class Meta:
        model = Generation
        fields = [
            "id",
            "status",
            "provider",
            "model",
            "prompt",
            "negative_prompt",
            "width",
            "height",
            "num_images",
            "steps",
            "cfg_scale",
            "seed",
            "params",
            "operation",
            "inputs",
            "strength",
            "operation_params",
            "project",
            "error",
            "cost_usd",
            "cost_is_estimate",
            "cancel_requested",
            "created_at",
            "started_at",
            "finished_at",
            "images",
            "style",
            "prompt_text",
            "negative_prompt_text",
            "queue_position",
            "waiting_reason",
            "elapsed_ms",
            "eta_ms",
            "progress",
            "gpu_seconds",
            "backend",
            "origin",
            "client_user",
            "user_agent",
        ]
        read_only_fields = fields
        list_serializer_class = GenerationListSerializer

    @extend_schema_field(InputSerializer(many=True))
    def get_inputs(self, generation) -> list[dict]:
        known = self.context.get("parents")
        if known is None or generation.pk not in known:
            known = self.context.setdefault("parents", {})
            known.update(described_by_generation(request_of(self).user, [generation]))
        return InputSerializer(known[generation.pk], many=True).data

    def _progress(self, generation) -> Progress:
        known = self.context.get("progress")
        if known is None or generation.pk not in known:
            known = self.context.setdefault("progress", {})
            known.update(progress_for([generation]))
        return known[generation.pk]

    def get_queue_position(self, generation) -> int | None:
        return self._progress(generation).queue_position

    def get_waiting_reason(self, generation) -> str | None:
        return self._progress(generation).waiting_reason

    def get_elapsed_ms(self, generation) -> int | None:
        return self._progress(generation).elapsed_ms

    def get_eta_ms(self, generation) -> int | None:
        return self._progress(generation).eta_ms


def visible_generations(request):
    """The user's generations; uploads (recorded as generations) are not listed as such."""
    return (
        Generation.objects.for_user(request.user, "view")
        .runs()
        .select_related("backend")
        .defer("backend__secret")  # only its name is shown
        .prefetch_related("images", "inputs")
    )


class GenerateView(APIView):
    @extend_schema(
        request=GenerateRequestSerializer,
        responses={202: GenerationSerializer, 404: NOT_FOUND, 429: TOO_MANY},
        description="One generation answers with it; a prompt with {a|b} "
        "variations answers with {count, generations: [...]}. 404: an input image or mask "
        "you may not view. 429: over the daily image limit or the cap on generations queued "
        "or running at once.",
    )
    def post(self, request):
        form = GenerateRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        generations = services.create_generations(request.user, form.validated_data)
        if len(generations) == 1:
            body = GenerationSerializer(generations[0], context={"request": request}).data
        else:
            body = {
                "count": len(generations),
                "generations": GenerationSerializer(
                    generations, many=True, context={"request": request}
                ).data,
            }
        return Response(body, status=status.HTTP_202_ACCEPTED)


class GenerationDetailView(generics.RetrieveAPIView):
    serializer_class = GenerationSerializer

    def get_queryset(self):
        return visible_generations(self.request)


class GenerationCancelView(APIView):
    @extend_schema(request=None, responses={200: GenerationSerializer, 409: CONFLICT})
    def post(self, request, pk):
        generation = get_object_or_404(Generation.objects.for_user(request.user, "view"), pk=pk)
        services.cancel_generation(generation)
        return Response(
            GenerationSerializer(
                visible_generations(request).get(pk=pk), context={"request": request}
            ).data
        )


class GenerationListView(generics.ListAPIView):
    serializer_class = GenerationSerializer

    @extend_schema(parameters=[OpenApiParameter("status", enum=Status.values, required=False)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        queryset = visible_generations(self.request)
        wanted = self.request.query_params.get("status")
        if wanted:
            if wanted not in Status.values:
                raise ValidationError(
                    {"status": [f"Unknown status; one of: {', '.join(Status.values)}."]}
                )
            queryset = queryset.filter(status=wanted)
        return queryset


class EstimateView(APIView):
    """Validate and price a generation without running it."""

    @extend_schema(request=GenerateRequestSerializer, responses={200: dict, 404: NOT_FOUND})
    def post(self, request):
        form = GenerateRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        estimate = services.estimate_cost(request.user, form.validated_data)
        built = estimate.request
        return Response(
            {
                "provider": estimate.provider.name,
                "model": built.model,
                "width": built.width,
                "height": built.height,
                "num_images": built.num_images,
                "estimate_usd": f"{estimate.usd:.6f}" if estimate.usd is not None else None,
            }
        )


def _listed_models(provider, user, limits) -> list:
    """A catalog provider's offered and retired-but-enabled models; another's own list (a
    self-hosted provider's: the models of the backends this user may use); never a model
    the user's groups do not allow."""
    if isinstance(provider, CloudProvider):
        return [s for s in listed_specs(provider.name) if limits.allows(provider.name, s.id)]
    return offered_models(user, provider, limits)


class ProvidersView(APIView):
    """Every provider with its models, parameters and prices, and whether the current user
    has a usable key. Each model says ``available``, ``deprecated`` and ``shutdown_date``;
    enabled catalog models the provider no longer offers are listed too, with
    ``available`` false, so a script learns why a model vanished."""

    @extend_schema(responses={200: dict})
    def get(self, request):
        providers = []
        limits = effective_limits(request.user)
        for provider in all_providers():
            providers.append(
                {
                    "name": provider.name,
                    "label": provider.label,
                    "requires_key": provider.requires_key,
                    "has_usable_key": has_usable_key(request.user, provider),
                    "self_hosted": provider.self_hosted,
                    "models": [
                        spec.to_dict() for spec in _listed_models(provider, request.user, limits)
                    ],
                }
            )
        return Response({"providers": providers})


class UploadedSerializer(serializers.Serializer):
    images = ImageSerializer(many=True, help_text="The uploaded images, in the order sent.")


class UploadView(APIView):
    """Upload images into the gallery (multipart: one or more ``file`` parts; optional
    ``project`` and ``keep_metadata``). Each file is validated like a provider's result (PNG,
    JPEG or WebP, size and pixel limits, a full decode, no bombs or trailing data), turned
    upright and stripped of metadata such as GPS unless ``keep_metadata`` is true. All or
    nothing: a 400 names every refused file."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "project": {"type": "integer"},
                    "keep_metadata": {"type": "boolean"},
                },
                "required": ["file"],
            }
        },
        responses={201: UploadedSerializer},
    )
    def post(self, request):
        form = UploadFormSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        images = uploads.upload_images(
            request.user,
            uploads.read_files(request.FILES.getlist("file")),
            project=form.validated_data.get("project"),
            keep_metadata=form.validated_data["keep_metadata"],
        )
        body = ImageSerializer(images, many=True, context={"request": request}).data
        return Response({"images": body}, status=status.HTTP_201_CREATED)


class UploadFormSerializer(serializers.Serializer):
    project = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    keep_metadata = serializers.BooleanField(required=False, default=False)
