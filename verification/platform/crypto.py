"""Field-level encryption of names and ID numbers, and the keyed hash that
finds a session by its ID number without decrypting anything.

Values are sealed with AES-256-GCM (authenticated: a changed byte fails to
decrypt rather than reading as something else) and stored as text:

    v1:<key_id>:<urlsafe base64 of nonce (12 bytes) + ciphertext + tag>

The field's name is the associated data, so a value copied into another
column does not decrypt. Keys come from settings (`KYC_FIELD_KEYS`): the
first encrypts, every one decrypts by its id, which is how keys rotate.
"""

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from .idcard import normalise_idcard

VERSION = "v1"
NONCE_BYTES = 12
KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class DecryptionError(Exception):
    """A stored value could not be decrypted: its key is not configured, it
    belongs to another field, or it was changed. The message names the key
    id and the field, never the value."""


# --- keys -----------------------------------------------------------------------


def _decode_key(text: str, what: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"{what} must decode to {KEY_BYTES} bytes, not {len(key)}")
    return key


@functools.lru_cache(maxsize=8)
def parse_field_keys(text: str) -> dict[str, bytes]:
    """`id1:<base64>,id2:<base64>` as {key_id: key}, current (first) key
    first. Raises ValueError saying what is wrong, never showing a key."""
    keys = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, sep, encoded = item.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise ValueError("each key must be `<key_id>:<base64 key>`; ids are letters, digits, _ . -")
        if key_id in keys:
            raise ValueError(f"key id {key_id!r} appears twice")
        keys[key_id] = _decode_key(encoded, f"key {key_id!r}")
    if not keys:
        raise ValueError("no key given")
    return keys


@functools.lru_cache(maxsize=8)
def parse_search_key(text: str) -> bytes:
    return _decode_key(text, "the search key")


def development_key(purpose: str) -> str:
    """A key derived from a fixed string, for DEBUG-on sandbox runs only:
    anyone can derive it, so it protects nothing."""
    seed = f"kyc-portal {purpose}, development only".encode()
    return base64.b64encode(hashlib.sha256(seed).digest()).decode()


def current_key_id() -> str:
    return next(iter(parse_field_keys(settings.KYC_FIELD_KEYS)))


# --- encryption -------------------------------------------------------------------


def encrypt(plaintext: str, *, field: str) -> str:
    """`plaintext` sealed with the current key, bound to `field`."""
    key_id, key = next(iter(parse_field_keys(settings.KYC_FIELD_KEYS).items()))
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), field.encode())
    return f"{VERSION}:{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def key_id_of(token: str) -> str | None:
    """The key id an encrypted value names, or None if it is not one."""
    version, _, rest = token.partition(":")
    key_id, sep, _ = rest.partition(":")
    return key_id if version == VERSION and sep else None


def decrypt(token: str, *, field: str) -> str:
    """The text sealed in `token` for `field`; DecryptionError otherwise."""
    key_id = key_id_of(token)
    if key_id is None:
        # Not "v1:…": perhaps plaintext left from before encryption. Say so
        # without echoing it.
        raise DecryptionError(f"{field}: the stored value is not an encrypted {VERSION} value")
    key = parse_field_keys(settings.KYC_FIELD_KEYS).get(key_id)
    if key is None:
        raise DecryptionError(f"{field}: key id {key_id!r} is not in KYC_FIELD_KEYS")
    try:
        blob = base64.urlsafe_b64decode(token.split(":", 2)[2].encode())
        if len(blob) <= NONCE_BYTES:
            raise ValueError("too short")
        plaintext = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], field.encode())
    except (InvalidTag, ValueError):  # binascii.Error is a ValueError
        raise DecryptionError(
            f"{field}: the value under key id {key_id!r} fails authentication "
            "(changed, or from another field)"
        ) from None
    return plaintext.decode()


# --- search -------------------------------------------------------------------------


def search_hash(idcard: str) -> str:
    """HMAC-SHA256 of the normalised ID number under `KYC_SEARCH_KEY`, hex.
    A plain hash would not do: ID numbers are few enough (region, birth date,
    sequence) to be hashed exhaustively; without the key they cannot."""
    key = parse_search_key(settings.KYC_SEARCH_KEY)
    return hmac.new(key, normalise_idcard(idcard).encode(), hashlib.sha256).hexdigest()
