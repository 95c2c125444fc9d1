"""The access-checked file views (the only way files reach a browser); pages: pages.py."""

from urllib.parse import quote

from csp.decorators import csp_exempt
from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.views import APIView

from gallery.models import Image
from gallery.signed_urls import signed_redirect
from imagegen.core.negotiation import answering

# What the file views answer (Image.content_type; thumbnails are WebP): what a client may ask
# for in Accept (imagegen.core.negotiation).
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
# Served images are inert: no scripts, no plugins, no sniffing, no framing by others.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def _serve(request, image: Image, name: str, etag: str, content_type: str, filename: str):
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    elif redirect := signed_redirect(name, content_type, f'inline; filename="{filename}"'):
        return redirect  # S3_SIGNED_REDIRECT: a short-lived URL, after the access check
    elif settings.FILE_SERVING == "x-accel":
        # nginx sends the file from its internal location (docs/deploy.md); the headers below
        # travel with this empty answer and the snippet there passes them on.
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.X_ACCEL_PREFIX + quote(name)
        response["Content-Disposition"] = f'inline; filename="{filename}"'
    else:
        try:
            handle = default_storage.open(name, "rb")
        except FileNotFoundError:
            raise Http404("The file is missing from storage.") from None
        response = FileResponse(handle, content_type=content_type)
        response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["ETag"] = etag
    # Ids map to fixed content, so a browser may keep the file; only this user's cache may.
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


FILE_SCHEMA = extend_schema(
    responses={
        (200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The file."),
        404: OpenApiResponse(description="No such image, or not yours to see."),
    }
)


# The page policy (django-csp) must not replace the file's own sandboxing policy.
@method_decorator(csp_exempt(), name="dispatch")
@method_decorator(FILE_SCHEMA, name="get")
class ImageFileView(APIView):
    """The original file. Owner: 200. Anyone else: 404."""

    content_negotiation_class = answering(*IMAGE_TYPES)

    def get(self, request, pk):
        image = get_object_or_404(Image.objects.for_user(request.user, "download"), pk=pk)
        return _serve(
            request,
            image,
            image.file,
            f'"{image.sha256}"',
            image.content_type,
            f"image-{image.pk}.{image.extension}",
        )


@method_decorator(csp_exempt(), name="dispatch")
@method_decorator(FILE_SCHEMA, name="get")
class ImageThumbnailView(APIView):
    """The WebP thumbnail. Owner: 200. Anyone else: 404."""

    content_negotiation_class = answering("image/webp")

    def get(self, request, pk):
        image = get_object_or_404(Image.objects.for_user(request.user, "download"), pk=pk)
        return _serve(
            request,
            image,
            image.thumbnail,
            f'"{image.sha256}-t"',
            "image/webp",
            f"image-{image.pk}-thumbnail.webp",
        )
