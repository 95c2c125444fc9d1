"""S3-compatible storage (AWS S3, MinIO, Ceph, R2…) with the same content-addressed names.

Used when ``STORAGE_BACKEND=s3``. Objects are private; files still reach users only through
the access-checked views, which either stream them through Django (the default) or, with
``S3_SIGNED_REDIRECT=true``, answer with a 302 to a presigned URL that expires after
``S3_SIGNED_URL_TTL`` seconds, issued only after the access check.
"""

from datetime import UTC

from storages.backends.s3 import S3Storage

from imagegen.core.storage import StoredFile


class ContentAddressedS3Storage(S3Storage):
    """S3 storage whose names are content hashes: a name is never changed to make it unique,
    and saving a name that already exists is a no-op (it already holds the same bytes)."""

    default_acl = None
    file_overwrite = False

    def get_available_name(self, name, max_length=None):
        return name

    def _save(self, name, content):
        if self.exists(name):
            return name
        return super()._save(name, content)

    def ensure_layout(self):
        """Nothing to create: S3 has no folders."""

    def iter_files(self, prefix: str):
        """Every object under ``prefix`` as StoredFile, paging through the listing."""
        root = self._normalize_name("x")[:-1]  # the location with its trailing slash, or ""
        for obj in self.bucket.objects.filter(Prefix=root + prefix.strip("/") + "/"):
            name = obj.key[len(root) :]
            modified = obj.last_modified
            if modified.tzinfo is None:
                modified = modified.replace(tzinfo=UTC)
            yield StoredFile(name, modified)
