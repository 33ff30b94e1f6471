"""Checks on incoming audio, shared by /transcribe-audio and the pipeline.

Sizes are checked before decoding, so a huge body costs nothing to refuse.
"""

from __future__ import annotations

import base64
import binascii

from django.conf import settings
from django.utils.translation import gettext as _

from congress.errors import InvalidValue

# Container signatures of the formats WhatsApp and browsers send.
_SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (0, b"OggS"),  # ogg/opus voice notes
    (0, b"ID3"),  # mp3 with a tag
    (0, b"RIFF"),  # wav
    (0, b"fLaC"),
    (0, b"\x1a\x45\xdf\xa3"),  # webm/matroska
    (4, b"ftyp"),  # mp4/m4a/aac in an mp4 box
    (0, b"#!AMR"),
)
_MPEG_SYNC = (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xf1", b"\xff\xf9")  # mp3 / adts aac
ALLOWED_MIME_PREFIXES = ("audio/", "video/ogg", "video/webm", "video/mp4", "application/ogg")


class AudioTooLarge(InvalidValue):
    pass


def max_base64_chars() -> int:
    return (settings.MAX_AUDIO_BYTES + 2) // 3 * 4


def check_mimetype(mimetype: str | None) -> str:
    mime = (mimetype or "").split(";")[0].strip().lower()
    if not mime.startswith(ALLOWED_MIME_PREFIXES):
        raise InvalidValue(_("Formato não suportado: envie um áudio (por exemplo audio/ogg)."))
    return mime


def looks_like_audio(data: bytes) -> bool:
    if any(data[offset : offset + len(sig)] == sig for offset, sig in _SIGNATURES):
        return True
    return data[:2] in _MPEG_SYNC


def check_audio_bytes(data: bytes) -> bytes:
    if not data:
        raise InvalidValue(_("O áudio está vazio."))
    if len(data) > settings.MAX_AUDIO_BYTES:
        raise AudioTooLarge(_("O áudio é grande demais (máximo %(mb)s MB).") % {"mb": settings.MAX_AUDIO_BYTES // (1024 * 1024)})
    if not looks_like_audio(data):
        raise InvalidValue(_("O arquivo não parece ser um áudio válido."))
    return data


def decode_audio_base64(value: str | None, mimetype: str | None) -> bytes:
    """Decode and check a base64 audio payload; raise InvalidValue/AudioTooLarge."""
    check_mimetype(mimetype)
    value = (value or "").strip()
    if value.startswith("data:") and "," in value:  # tolerate a data: URL
        value = value.split(",", 1)[1]
    if not value:
        raise InvalidValue(_("O áudio está vazio."))
    if len(value) > max_base64_chars() + 4:
        raise AudioTooLarge(_("O áudio é grande demais (máximo %(mb)s MB).") % {"mb": settings.MAX_AUDIO_BYTES // (1024 * 1024)})
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidValue(_("O campo audio_base64 não contém base64 válido.")) from None
    return check_audio_bytes(data)
