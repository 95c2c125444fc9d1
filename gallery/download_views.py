"""API endpoints for downloads: one original, a streamed ZIP of a selection or a project.

Every endpoint looks its objects up through ``for_user(user, "view")`` before reading a byte; an
object the user may not see is a 404 and nothing is streamed.
"""

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from gallery import downloads
from gallery.models import MAX_ID, Image
from gallery.views import FILE_CSP, IMAGE_TYPES
from imagegen.core import audit
from imagegen.core.negotiation import answering
from imagegen.core.schema import NOT_FOUND
from projects.models import Project

MAX_SELECTION = 1000


def _file_headers(response):
    # The same guarantees as every served file (gallery.views._serve): inert, private.
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


class ImageDownloadView(APIView):
    """The original as an attachment, named after its title or prompt, with its generation
    parameters embedded. Owner (or a viewer of its project): 200. Anyone else: 404."""

    content_negotiation_class = answering(*IMAGE_TYPES)

    @extend_schema(
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            (200, "image/webp"): OpenApiTypes.BINARY,
            304: OpenApiResponse(description="Not modified (If-None-Match)."),
            404: NOT_FOUND,
        }
    )
    def get(self, request, pk):
        image = get_object_or_404(
            Image.objects.for_user(request.user, "view").select_related("generation"), pk=pk
        )
        etag = downloads.download_etag(image, request.user)
        if request.headers.get("If-None-Match") == etag:
            response = HttpResponse(status=304)
        else:
            data = downloads.file_with_metadata(image, request.user)  # MissingFile: a 404
            response = HttpResponse(data, content_type=image.content_type)
            response["Content-Disposition"] = downloads.attachment_header(
                downloads.download_name(image), downloads.download_name(image, allow_unicode=True)
            )
        response["ETag"] = etag
        # The name follows the title, so a cached copy is revalidated (cheaply, by ETag).
        response["Cache-Control"] = "private, no-cache"
        return _file_headers(response)


def _zip_response(
    request, images, label: str, extra: dict | None = None, project=None
) -> StreamingHttpResponse:
    # The audit entry is written when the archive is handed over, with what it holds.
    details = {"count": len(images), "ids": [image.pk for image in images][:1000]}
    if project is not None:
        audit.record("export.zip", obj=project, details=details)
    else:
        audit.record(
            "export.zip",
            object_type=Image._meta.label_lower,
            object_label=f"{len(images)} images",
            details=details,
        )
    response = StreamingHttpResponse(
        downloads.stream_archive(images, extra, user=request.user), content_type="application/zip"
    )
    response["Content-Disposition"] = downloads.attachment_header(*downloads.archive_name(label))
    response["Cache-Control"] = "private, no-store"
    return _file_headers(response)


class SelectionDownloadRequestSerializer(serializers.Serializer):
    """The body of POST /api/gallery/download."""

    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        allow_empty=False,
        max_length=MAX_SELECTION,
    )


class SelectionDownloadView(APIView):
    """A streamed ZIP of the chosen images with manifest.json and manifest.csv. Any id the
    user may not see: 404 for the whole request, and nothing is streamed."""

    content_negotiation_class = answering("application/zip")

    @extend_schema(
        request=SelectionDownloadRequestSerializer,
        responses={(200, "application/zip"): OpenApiTypes.BINARY, 404: NOT_FOUND},
    )
    def post(self, request):
        form = SelectionDownloadRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        wanted = list(dict.fromkeys(form.validated_data["ids"]))  # unique, in the given order
        found = {
            image.pk: image
            for image in downloads.archive_queryset(
                Image.objects.for_user(request.user, "view").filter(pk__in=wanted)
            )
        }
        if len(found) != len(wanted):
            raise Http404("No such image.")
        images = [found[pk] for pk in wanted]
        label = f"images-{timezone.localtime():%Y%m%d-%H%M%S}"
        return _zip_response(request, images, label)


class ProjectDownloadView(APIView):
    """A streamed ZIP of the project's images that the user may see, oldest first, with the
    manifests. A project the user may not see: 404."""

    content_negotiation_class = answering("application/zip")

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        project = get_object_or_404(Project.objects.for_user(request.user, "view"), pk=pk)
        images = list(
            downloads.archive_queryset(
                Image.objects.for_user(request.user, "view").filter(project=project).order_by("id")
            )
        )
        return _zip_response(
            request,
            images,
            f"{project.name}-{project.pk}",
            {"project": {"id": project.pk, "name": project.name}},
            project=project,
        )
