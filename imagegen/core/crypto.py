"""Encryption of stored secrets (provider keys, backend credentials), keyed by ENCRYPTION_KEY
and nothing else.

django-cryptography's stock field derives its AES key from CRYPTOGRAPHY_KEY once at import,
but signs with Django's SECRET_KEY: rotating SECRET_KEY would make every stored key
unreadable. This field builds both the cipher and the signer from one secret (ENCRYPTION_KEY)
with the library's own primitives, so a rotation (``rotate_encryption_key``) only has to
decrypt with one secret and encrypt with another.
"""

from base64 import b64decode, b64encode
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.conf import settings
from django.core.signing import BadSignature
from django.db import models
from django.utils.encoding import force_bytes
from django_cryptography.core.signing import FernetSigner
from django_cryptography.fields import get_encrypted_field
from django_cryptography.utils.crypto import FernetBytes, InvalidToken

CIPHER_SALT = b"imagegen-provider-keys-cipher"
SIGNER_SALT = b"imagegen-provider-keys-signer"
ITERATIONS = 100_000


class UndecryptableSecret(Exception):
    """The stored value was not encrypted with this secret (or was tampered with)."""


def _derive(secret: str, salt: bytes) -> bytes:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=ITERATIONS)
    return kdf.derive(secret.encode())


@lru_cache(maxsize=8)
def fernet_for(secret: str) -> FernetBytes:
    """An authenticated cipher (AES-256-CBC + HMAC-SHA256) whose keys derive from ``secret``."""
    if not secret:
        raise ValueError("ENCRYPTION_KEY is empty")
    signer = FernetSigner(key=_derive(secret, SIGNER_SALT), algorithm="sha256")
    return FernetBytes(key=_derive(secret, CIPHER_SALT), signer=signer)


def encrypt_text(plaintext: str, secret: str) -> bytes:
    """``plaintext`` encrypted under ``secret``."""
    return fernet_for(secret).encrypt(plaintext.encode())


def decrypt_text(ciphertext: bytes, secret: str) -> str:
    """The plaintext of ``ciphertext``; UndecryptableSecret when ``secret`` does not open it."""
    try:
        return fernet_for(secret).decrypt(bytes(ciphertext)).decode()
    except (BadSignature, InvalidToken, UnicodeDecodeError, ValueError) as exc:
        raise UndecryptableSecret("the stored value does not open with this key") from exc


def current_secret() -> str:
    return settings.ENCRYPTION_KEY


# How serialized values (dumpdata, backups) carry the stored ciphertext, base64-encoded.
SERIALIZED_PREFIX = "encrypted:"


class _ReadSecret(str):
    """A plaintext read from the database that remembers its stored ciphertext, so that
    serializing it writes that ciphertext, never the plaintext."""

    ciphertext: bytes


class StoredCiphertext(bytes):
    """A ciphertext loaded from a dump: written back to the column exactly as it is."""


class EncryptedSecretField(get_encrypted_field(models.TextField, True)):
    """A text column stored encrypted under the current ENCRYPTION_KEY.

    A value that does not decrypt (the key changed without a rotation) reads as None, so one
    bad row cannot break every page that lists keys; callers treat None as "no usable key".
    Serialized (dumpdata, ``manage.py backup``) it is ``encrypted:<base64 ciphertext>``: the
    stock text field would have written the decrypted plaintext.
    """

    def from_db_value(self, value, *args, **kwargs):
        if value is None:
            return None
        raw = force_bytes(value)
        plaintext = self._load(raw)
        if plaintext is None:
            return None
        secret = _ReadSecret(plaintext)
        secret.ciphertext = raw
        return secret

    def value_to_string(self, obj):
        value = self.value_from_object(obj)
        if value is None:
            return None
        if isinstance(value, StoredCiphertext):
            raw = bytes(value)
        else:
            raw = getattr(value, "ciphertext", None) or self._dump(value)
        return SERIALIZED_PREFIX + b64encode(raw).decode("ascii")

    def to_python(self, value):
        if isinstance(value, str) and value.startswith(SERIALIZED_PREFIX):
            return StoredCiphertext(b64decode(value[len(SERIALIZED_PREFIX) :]))
        return super().to_python(value)

    def get_db_prep_value(self, value, connection, prepared=False):
        if isinstance(value, StoredCiphertext):
            return connection.Database.Binary(bytes(value))
        return super().get_db_prep_value(value, connection, prepared)

    def _dump(self, value) -> bytes:
        return encrypt_text(str(value), current_secret())

    def _load(self, value: bytes):
        try:
            return decrypt_text(value, current_secret())
        except UndecryptableSecret:
            return None
