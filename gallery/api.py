"""REST API for the gallery: list with filters, search and keyset pages; read, edit, delete,
favorite, bulk actions and remix. Every query starts from ``Image.objects.for_user``."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from gallery import lineage, services
from gallery.list_rows import COLUMNS, cost_share, image_rows
from gallery.listing import (
    GalleryQuerySerializer,
    page_size_for,
    visible_page,
)
from gallery.models import MAX_ID, MAX_RATING, Image
from imagegen.core.links import absolute_url, request_of

# Provider metadata a user may see; anything else a provider returned (logs, raw payloads)
# stays in the database.
PUBLIC_METADATA = ("revised_prompt", "timings", "seed", "safety", "has_nsfw_concepts")


class ImageSerializer(serializers.ModelSerializer):
    """An image with its generation's parameters (read from the select_related generation)."""

    generation = serializers.IntegerField(source="generation_id", read_only=True)
    prompt = serializers.CharField(source="generation.prompt", read_only=True)
    negative_prompt = serializers.CharField(source="generation.negative_prompt", read_only=True)
    provider = serializers.CharField(source="generation.provider", read_only=True)
    model = serializers.CharField(source="generation.model", read_only=True)
    steps = serializers.IntegerField(source="generation.steps", read_only=True, allow_null=True)
    cfg_scale = serializers.FloatField(
        source="generation.cfg_scale", read_only=True, allow_null=True
    )
    seed = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    project = serializers.IntegerField(source="project_id", read_only=True, allow_null=True)
    owner = serializers.CharField(source="owner.username", read_only=True)
    cost_usd = serializers.SerializerMethodField()
    operation = serializers.CharField(
        source="generation.operation",
        read_only=True,
        help_text="What made it: generate, edit, inpaint, outpaint, upscale, "
        "remove_background, or upload.",
    )

    class Meta:
        model = Image
        fields = [
            "id",
            "origin",
            "operation",
            "generation",
            "prompt",
            "negative_prompt",
            "provider",
            "model",
            "width",
            "height",
            "seed",
            "steps",
            "cfg_scale",
            "url",
            "thumbnail_url",
            "favorite",
            "rating",
            "title",
            "notes",
            "tags",
            "project",
            "owner",
            "cost_usd",
            "created_at",
        ]
        read_only_fields = fields

    def get_seed(self, image) -> int | None:
        return image.known_seed

    def get_url(self, image) -> str:
        return absolute_url(request_of(self), "image-file", image.pk)

    def get_thumbnail_url(self, image) -> str:
        return absolute_url(request_of(self), "image-thumbnail", image.pk)

    def get_tags(self, image) -> list[str]:
        return sorted(tag.name for tag in image.tags.all())

    def get_cost_usd(self, image) -> str | None:
        """This image's share of its generation's cost."""
        return cost_share(image.generation.cost_usd, image.generation.num_images)


class ImageDetailSerializer(ImageSerializer):
    """An image plus its generation's full parameters, public provider metadata and lineage."""

    format = serializers.CharField(read_only=True)
    bytes = serializers.IntegerField(read_only=True)
    parameters = serializers.SerializerMethodField()
    provider_metadata = serializers.SerializerMethodField()
    lineage = serializers.SerializerMethodField()
    parents = serializers.SerializerMethodField(
        help_text="What it was made from: [{image, role (input or mask), state}], state being "
        "present, deleted, hidden (not yours to see) or drawn (a mask drawn for it)."
    )
    children = serializers.SerializerMethodField(
        help_text="The images made from it that you may see: [{image, role, operation}]."
    )
    cost_is_estimate = serializers.BooleanField(
        source="generation.cost_is_estimate", read_only=True
    )

    class Meta(ImageSerializer.Meta):
        fields = [
            *ImageSerializer.Meta.fields,
            "format",
            "bytes",
            "parameters",
            "provider_metadata",
            "lineage",
            "parents",
            "children",
            "cost_is_estimate",
        ]
        read_only_fields = fields

    def get_parents(self, image) -> list[dict]:
        return lineage.parents(self.context["request"].user, image)

    def get_children(self, image) -> list[dict]:
        return lineage.children(self.context["request"].user, image)

    def get_parameters(self, image) -> dict:
        g = image.generation
        return {
            "provider": g.provider,
            "model": g.model,
            "prompt": g.prompt,
            "negative_prompt": g.negative_prompt,
            "width": g.width,
            "height": g.height,
            "num_images": g.num_images,
            "steps": g.steps,
            "cfg_scale": g.cfg_scale,
            "seed": g.seed,
            "params": g.params,
            "operation": g.operation,
            "strength": g.strength,
            "operation_params": g.operation_params,
            "status": g.status,
            "created_at": g.created_at,
            "started_at": g.started_at,
            "finished_at": g.finished_at,
            "duration_seconds": g.duration_seconds,
        }

    def get_provider_metadata(self, image) -> dict:
        g = image.generation
        metadata = g.provider_metadata if isinstance(g.provider_metadata, dict) else {}
        public = {key: metadata[key] for key in PUBLIC_METADATA if key in metadata}
        return {"request_id": g.provider_request_id, **public}

    def get_lineage(self, image) -> dict:
        """Where the image comes from: its generation, its place in it, the other images of
        that generation and the other images with the same bytes, as far as the user sees."""
        user = self.context["request"].user
        visible = Image.objects.for_user(user, "view").exclude(pk=image.pk)
        return {
            "generation": image.generation_id,
            "index": image.index,
            "siblings": list(
                visible.filter(generation_id=image.generation_id)
                .order_by("index", "id")
                .values_list("pk", flat=True)
            ),
            "same_content": list(
                visible.filter(sha256=image.sha256).order_by("id").values_list("pk", flat=True)[:20]
            ),
        }


class ImageUpdateSerializer(serializers.Serializer):
    """The body of PUT/PATCH /api/gallery/{id}; PUT may still leave fields out."""

    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=100
    )
    rating = serializers.IntegerField(required=False, min_value=0, max_value=MAX_RATING)
    favorite = serializers.BooleanField(required=False)
    project = serializers.IntegerField(required=False, allow_null=True)


class BulkRequestSerializer(serializers.Serializer):
    """The body of POST /api/gallery/bulk."""

    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        allow_empty=False,
        max_length=services.MAX_BULK_IDS,
    )
    action = serializers.ChoiceField(services.BULK_ACTIONS)
    project = serializers.IntegerField(
        required=False, allow_null=True, help_text="move: target project id, null to unassign"
    )
    tag = serializers.CharField(required=False, max_length=200, help_text="add_tag / remove_tag")
    rating = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_RATING, help_text="set_rating"
    )

    def validate(self, attrs):
        if attrs["action"] == "move" and "project" not in attrs:
            raise ValidationError({"project": ["Give a project id, or null to unassign."]})
        return attrs


def visible_images(request):
    """The user's visible images with everything the serializer reads, in constant queries."""
    return (
        Image.objects.for_user(request.user, "view")
        .select_related("generation", "owner")
        .prefetch_related("tags")
    )


class GalleryListView(APIView):
    """GET /api/gallery: filtered, searched, sorted keyset pages of visible images."""

    @extend_schema(
        operation_id="api_gallery_list",
        parameters=[GalleryQuerySerializer],
        responses={
            200: inline_serializer(
                "GalleryPage",
                {
                    "results": ImageSerializer(many=True),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                },
            )
        },
    )
    def get(self, request):
        params = GalleryQuerySerializer.quick(request.query_params)
        if params is None:
            query = GalleryQuerySerializer.from_query(request.query_params)
            query.is_valid(raise_exception=True)
            params = query.validated_data
        # The lean path (gallery/list_rows.py): dicts from .values(), not ImageSerializer,
        # which documents the items above and which it reproduces exactly.
        size = page_size_for(request.user, params.get("page_size"))
        page = visible_page(request.user, Image.objects.all(), params, size, columns=COLUMNS)
        url = request.build_absolute_uri()

        def link(cursor):
            if cursor is None:
                return None
            return replace_query_param(remove_query_param(url, "cursor"), "cursor", cursor)

        return Response(
            {
                "results": image_rows(page.items, request),
                "next": link(page.next_cursor),
                "previous": link(page.previous_cursor),
            }
        )


class GalleryDetailView(APIView):
    """GET, PUT/PATCH and DELETE /api/gallery/{id}."""

    def _image(self, request, pk):
        return get_object_or_404(visible_images(request), pk=pk)

    def _answer(self, request, pk):
        return Response(
            ImageDetailSerializer(self._image(request, pk), context={"request": request}).data
        )

    @extend_schema(responses={200: ImageDetailSerializer})
    def get(self, request, pk):
        return self._answer(request, pk)

    @extend_schema(request=ImageUpdateSerializer, responses={200: ImageDetailSerializer})
    def patch(self, request, pk):
        image = self._image(request, pk)
        form = ImageUpdateSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        try:
            services.update_image(request.user, image, form.validated_data)
        except Image.DoesNotExist:  # deleted by a concurrent request
            raise Http404 from None
        # Answered even when the change took the image out of the user's sight (an editor
        # moving a colleague's image out of the project): they saw it and just changed it.
        changed = Image.objects.select_related("generation", "owner").prefetch_related("tags")
        # get_object_or_404: a concurrent delete may have removed it meanwhile.
        return Response(
            ImageDetailSerializer(
                get_object_or_404(changed, pk=pk), context={"request": request}
            ).data
        )

    @extend_schema(request=ImageUpdateSerializer, responses={200: ImageDetailSerializer})
    def put(self, request, pk):
        return self.patch(request, pk)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk):
        image = Image.objects.get_for_user(
            request.user, "delete", pk=pk, denied="Only the image's owner may delete it."
        )
        services.delete_images([image])
        return Response(status=status.HTTP_204_NO_CONTENT)


class GalleryFavoriteView(APIView):
    """POST /api/gallery/{id}/favorite: toggle; answer the new state."""

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "FavoriteState",
                {"id": serializers.IntegerField(), "favorite": serializers.BooleanField()},
            )
        },
    )
    def post(self, request, pk):
        image = Image.objects.get_for_user(
            request.user, "change", pk=pk, denied="Only the image's owner may change favorite."
        )
        try:
            favorite = services.toggle_favorite(image)
        except Image.DoesNotExist:  # deleted by a concurrent request
            raise Http404 from None
        return Response({"id": image.pk, "favorite": favorite})


class GalleryBulkView(APIView):
    """POST /api/gallery/bulk: one action over many images, all or nothing."""

    @extend_schema(
        request=BulkRequestSerializer,
        responses={
            200: inline_serializer(
                "BulkResult",
                {
                    "action": serializers.CharField(),
                    "count": serializers.IntegerField(),
                    "ids": serializers.ListField(child=serializers.IntegerField()),
                },
            ),
            404: OpenApiResponse(
                inline_serializer(
                    "BulkRefused",
                    {
                        "detail": serializers.CharField(),
                        "ids": serializers.ListField(child=serializers.IntegerField()),
                    },
                ),
                description="Nothing was changed: some ids are not yours to change.",
            ),
        },
    )
    def post(self, request):
        form = BulkRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        count = services.bulk_change(
            request.user,
            data["ids"],
            data["action"],
            project=data.get("project"),
            tag=data.get("tag"),
            rating=data.get("rating"),
        )
        return Response(
            {"action": data["action"], "count": count, "ids": list(dict.fromkeys(data["ids"]))}
        )


class GalleryRemixView(APIView):
    """GET /api/gallery/{id}/remix: a ready POST /api/generate body."""

    @extend_schema(
        responses={
            200: inline_serializer(
                "RemixBody",
                {
                    "prompt": serializers.CharField(),
                    "provider": serializers.CharField(),
                    "model": serializers.CharField(),
                },
            )
        }
    )
    def get(self, request, pk):
        image = get_object_or_404(
            Image.objects.for_user(request.user, "view").select_related("generation"), pk=pk
        )
        return Response(services.remix_body(request.user, image))
