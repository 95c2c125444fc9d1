"""The access-checked file views (the only way files reach a browser); pages: pages.py."""

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from rest_framework.views import APIView

from gallery.models import Image
from gallery.signed_urls import signed_redirect

# Served images are inert: no scripts, no plugins, no sniffing, no framing by others.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def _serve(request, image: Image, name: str, etag: str, content_type: str, filename: str):
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    elif redirect := signed_redirect(name, content_type, f'inline; filename="{filename}"'):
        return redirect  # S3_SIGNED_REDIRECT: a short-lived URL, after the access check
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


class ImageFileView(APIView):
    """The original file. Owner: 200. Anyone else: 404."""

    def get(self, request, pk):
        image = get_object_or_404(Image.objects.files_visible_to(request.user), pk=pk)
        return _serve(request, image, image.file, f'"{image.sha256}"', image.content_type,
                      f"image-{image.pk}.{image.extension}")


class ImageThumbnailView(APIView):
    """The WebP thumbnail. Owner: 200. Anyone else: 404."""

    def get(self, request, pk):
        image = get_object_or_404(Image.objects.files_visible_to(request.user), pk=pk)
        return _serve(request, image, image.thumbnail, f'"{image.sha256}-t"', "image/webp",
                      f"image-{image.pk}-thumbnail.webp")
