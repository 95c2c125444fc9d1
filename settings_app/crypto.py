"""Kept for the migrations that name ``settings_app.crypto.EncryptedSecretField``; the field
and the cipher live in ``imagegen.core.crypto`` (backend credentials use them too)."""

from imagegen.core.crypto import (  # noqa: F401 - re-exported names
    EncryptedSecretField,
    UndecryptableSecret,
    decrypt_text,
    encrypt_text,
)
