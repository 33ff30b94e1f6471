"""Registration codes (``CBAS-7F3K2``) and their signed form for the check-in QR.

Five characters from an alphabet without look-alikes (no 0/O, 1/I/L, 5/S,
8/B... only the ones people confuse when reading a screen aloud are out):
31^5 ≈ 28.6 million codes. The unique column decides; a clash is retried.
"""

from __future__ import annotations

import re
import secrets

from django.conf import settings
from django.core import signing

ALPHABET = "2345679ACDEFGHJKMNPQRTUVWXYZ"
LENGTH = 5
_SALT = "registrations.codes.checkin"
_CODE_RE = re.compile(r"\b([A-Z]{2,8})[-\s]?([0-9A-Z]{5})\b")


def new_code(prefix: str | None = None) -> str:
    """A fresh random code: ``CBAS-7F3K2``."""
    prefix = (prefix if prefix is not None else settings.REGISTRATION_CODE_PREFIX).upper()
    return f"{prefix}-{''.join(secrets.choice(ALPHABET) for _ in range(LENGTH))}"


def find_code(text: str) -> str | None:
    """A registration code written in ``text`` ("cbas 7f3k2", "CBAS-7F3K2"), normalised; None when absent."""
    prefix = settings.REGISTRATION_CODE_PREFIX.upper()
    for match in _CODE_RE.finditer((text or "").upper()):
        if match.group(1) == prefix and all(ch in ALPHABET for ch in match.group(2)):
            return f"{prefix}-{match.group(2)}"
    return None


def signed_code(code: str) -> str:
    """What the check-in QR holds: the code and a signature only this server can make."""
    return signing.Signer(salt=_SALT).sign(code)


def verify_signed(value: str) -> str | None:
    """The code of a signed value read from a QR; None when the signature does not match."""
    try:
        return signing.Signer(salt=_SALT).unsign(value.strip())
    except signing.BadSignature:
        return None


def qr_png(code: str, *, scale: int = 8) -> bytes:
    """A PNG of the check-in QR (the signed code), made with segno."""
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(signed_code(code), error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()
