"""Channels: the ways a WhatsApp message reaches us and its reply leaves.

Every channel turns its input into the same accepted ``InboundMessage``
(``services.message_accept``, with ``channel=``) and delivers the same
``OutboundMessage``; the pipeline between them (drain, engine turn, outbox,
sweeper) does not know channels exist. A reply leaves through the channel
its message came from (``OutboundMessage.channel``, copied from the inbound).

A channel is one module here exposing:

* ``configured() -> bool``: whether it can send (else replies are only logged);
* ``send(outbound) -> Delivery``: deliver one reply or raise ``ChannelError``
  (``transient`` says whether a retry may help; ``ReplyHeld`` = keep it for
  an organizer instead of failing it);
* ``on_processing(inbound) -> None``: called once when the worker starts on a
  message (read receipt, typing indicator); best effort, never raises;
* ``download_audio(inbound) -> tuple[bytes, str]``: the voice note's bytes
  and MIME type when the channel hands over a media id instead of bytes;
* ``download_attachment(inbound) -> tuple[bytes, str]``: the same for a photo
  or PDF (``InboundMessage.attachment_mimetype``), at most
  MAX_ATTACHMENT_BYTES.

Adding a channel = one module + one line in ``_MODULES`` + one value in
``models.Channel`` (and its entry point, e.g. a webhook view).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from congress.errors import CongressError

_MODULES = {
    "gateway": "whatsapp.channels.gateway",
    "cloud": "whatsapp.channels.cloud",
}


class ChannelError(CongressError):
    """Delivery through a channel failed; ``transient`` says whether to retry.

    ``status`` is the HTTP status when there was one, ``code`` the
    provider's own error code (the Graph API's ``error.code``)."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message, transient=transient)
        self.status = status
        self.code = code


class ReplyHeld(ChannelError):
    """The reply may not go out now and must wait for an organizer (the
    Cloud API outside the 24-hour window without an approved template)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class MediaTooLarge(ChannelError):
    """The media is larger than its limit (MAX_AUDIO_BYTES for a voice note,
    MAX_ATTACHMENT_BYTES for a photo or PDF); permanent."""

    def __init__(self, size: int, limit: str = "MAX_AUDIO_BYTES") -> None:
        what = "voice note" if limit == "MAX_AUDIO_BYTES" else "file"
        super().__init__(f"{what} of {size} bytes is larger than {limit}", transient=False)


@dataclass(frozen=True)
class Delivery:
    """What a channel reports for a reply it delivered."""

    provider_message_id: str = ""  # WhatsApp's id for it, when the channel tells
    detail: str = ""  # for the admin's event row, e.g. "template aviso (pt_BR)"


def get_channel(name: str) -> ModuleType:
    """The module of channel ``name`` (unknown names: the gateway, which is
    what every row written before channels existed used)."""
    return importlib.import_module(_MODULES.get(name, _MODULES["gateway"]))
