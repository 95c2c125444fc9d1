"""Encryption of stored provider keys, keyed by ENCRYPTION_KEY and nothing else.

django-cryptography's stock field derives its AES key from CRYPTOGRAPHY_KEY once at import,
but signs with Django's SECRET_KEY: rotating SECRET_KEY would make every stored key
unreadable. This field builds both the cipher and the signer from one secret (ENCRYPTION_KEY)
with the library's own primitives, so a rotation (``rotate_encryption_key``) only has to
decrypt with one secret and encrypt with another.
"""

from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.conf import settings
from django.core.signing import BadSignature
from django.db import models
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


class EncryptedSecretField(get_encrypted_field(models.TextField, True)):
    """A text column stored encrypted under the current ENCRYPTION_KEY.

    A value that does not decrypt (the key changed without a rotation) reads as None, so one
    bad row cannot break every page that lists keys; callers treat None as "no usable key".
    """

    def _dump(self, value) -> bytes:
        return encrypt_text(str(value), current_secret())

    def _load(self, value: bytes):
        try:
            return decrypt_text(value, current_secret())
        except UndecryptableSecret:
            return None
