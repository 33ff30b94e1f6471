"""The gateway channel: any WhatsApp gateway that hands messages to
``/whatsapp`` (queued shape) or to ``message_accept`` in-process (our neonize
gateway), and takes replies at ``GATEWAY_URL/send-text`` (whatsapp/sender.py).
"""

from __future__ import annotations

from whatsapp.channels import ChannelError, Delivery
from whatsapp.models import InboundMessage, OutboundMessage
from whatsapp.sender import gateway_configured, send_text


def configured() -> bool:
    return gateway_configured()


def send(outbound: OutboundMessage) -> Delivery:
    """POST the reply to the gateway; ``GatewayError`` (a ``ChannelError``) when it did not take it."""
    message_id = send_text(
        number=outbound.number, jid=outbound.jid, text=outbound.text, idempotency_key=f"outbound-{outbound.pk}"
    )
    return Delivery(provider_message_id=message_id)


def on_processing(inbound: InboundMessage) -> None:
    """Nothing: our neonize gateway shows "typing…" itself when it accepts."""


def download_audio(inbound: InboundMessage) -> tuple[bytes, str]:
    raise ChannelError("the gateway hands voice notes over as bytes; there is nothing to download", transient=False)


def download_attachment(inbound: InboundMessage) -> tuple[bytes, str]:
    raise ChannelError("the gateway hands files over as bytes; there is nothing to download", transient=False)
