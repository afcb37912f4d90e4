"""Secrets at rest: AES-256-GCM under a key ring.

Each sealed value has a fresh 96-bit nonce, the id of the key that sealed it, and a
caller-supplied context bound in as associated data (for a connection: its tenant's
schema and its id). A blob copied to another row or tenant therefore fails to open,
as does any change to blob, key id or context.

Keys come from settings.ENCRYPTION_KEYS, newest first: new values are sealed under the
newest key, old ones still open under theirs until `rotate_encryption_keys` re-seals them.
"""

import base64
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

FORMAT_VERSION = b"\x01"
NONCE_BYTES = 12


class SealBroken(Exception):
    """The value cannot be opened: unknown key, wrong context, or tampered bytes.
    Deliberately says nothing about the secret."""


@dataclass(frozen=True)
class Sealed:
    key_id: str
    blob: bytes


def seal(plaintext: bytes, *, context: str) -> Sealed:
    key_id, key = _ring()[0]
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, _associated_data(key_id, context))
    return Sealed(key_id=key_id, blob=FORMAT_VERSION + nonce + ciphertext)


def unseal(sealed: Sealed, *, context: str) -> bytes:
    key = dict(_ring()).get(sealed.key_id)
    blob = bytes(sealed.blob)
    if key is None or not blob.startswith(FORMAT_VERSION) or len(blob) < 1 + NONCE_BYTES + 16:
        raise SealBroken("The stored secret cannot be opened.")
    nonce, ciphertext = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, _associated_data(sealed.key_id, context))
    except InvalidTag:
        raise SealBroken("The stored secret cannot be opened.") from None


def newest_key_id() -> str:
    return _ring()[0][0]


def generate_key_spec(key_id: str) -> str:
    """A new `key_id:base64key` entry for ENCRYPTION_KEYS."""
    return f"{key_id}:{base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


def _associated_data(key_id: str, context: str) -> bytes:
    return FORMAT_VERSION + key_id.encode() + b"\x00" + context.encode()


def _ring() -> list[tuple[str, bytes]]:
    return _parse_ring(tuple(settings.ENCRYPTION_KEYS))


@lru_cache(maxsize=4)
def _parse_ring(specs: tuple[str, ...]) -> list[tuple[str, bytes]]:
    ring = []
    for spec in specs:
        key_id, _, encoded = spec.partition(":")
        try:
            key = base64.urlsafe_b64decode(encoded)
        except ValueError:
            key = b""
        if not key_id or len(key) != 32:
            # Name the entry by position only: the setting holds key material.
            raise ImproperlyConfigured(
                f"ENCRYPTION_KEYS entry {len(ring) + 1} must be 'key_id:<32 bytes, urlsafe base64>'."
            )
        ring.append((key_id, key))
    if not ring:
        raise ImproperlyConfigured("ENCRYPTION_KEYS is empty.")
    if len({key_id for key_id, _ in ring}) != len(ring):
        raise ImproperlyConfigured("ENCRYPTION_KEYS has a key id twice.")
    return ring
