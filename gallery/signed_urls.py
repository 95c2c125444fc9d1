"""Short-lived presigned URLs for files on S3 (``S3_SIGNED_REDIRECT=true``).

Kept apart from ``imagegen.core.storage_s3`` so that serving files from the local folder never
imports boto3.
"""

from django.conf import settings
from django.core.files.storage import storages as storage_handler
from django.http import HttpResponseRedirect


def signed_redirect(name: str, content_type: str, disposition: str):
    """A 302 to a short-lived presigned URL for ``name`` when S3_SIGNED_REDIRECT is on and
    files are on S3; None otherwise. Call it only after the access check."""
    if not getattr(settings, "S3_SIGNED_REDIRECT", False):
        return None
    from storages.backends.s3 import S3Storage  # deferred: boto3 loads only where S3 is used

    storage = storage_handler["default"]
    if not isinstance(storage, S3Storage):
        return None
    url = storage.url(
        name,
        parameters={"ResponseContentType": content_type, "ResponseContentDisposition": disposition},
        expire=settings.S3_SIGNED_URL_TTL,
    )
    response = HttpResponseRedirect(url)
    # The URL expires: no cache may keep the redirect.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
