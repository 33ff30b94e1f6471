"""The confirmation e-mail: built from templates, sent through Django's mail API.

The backend is whatever ``EMAIL_BACKEND`` says (console by default, SMTP via
``EMAIL_URL``, or an anymail ESP). This module is the one wrapper around it:
every failure comes out as :class:`EmailError`, ``transient`` when trying
again later may work (connection dropped, 4xx reply, ESP 5xx/429) and
permanent otherwise (address refused, bad credentials, 5xx reply).
"""

from __future__ import annotations

import smtplib

from anymail.exceptions import (
    AnymailAPIError,
    AnymailError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
)
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from chatbot.knowledge import format_price
from congress.errors import CongressError
from registrations.models import Participant
from registrations.validators import format_phone, mask_cpf

QR_CID = "checkin-qr"


class EmailError(CongressError):
    """The mail server or ESP did not take the message."""


class EmailTransientError(EmailError):
    """Worth retrying later."""

    transient = True


def confirmation_context(participant: Participant) -> dict:
    event = participant.profile.event
    try:
        phone = format_phone(participant.phone)
    except ValueError:
        phone = participant.phone
    return {
        "event": event,
        "participant": participant,
        "first_name": participant.full_name.split(" ", 1)[0],
        "cpf_masked": mask_cpf(participant.cpf),
        "phone": phone,
        "profile": participant.profile.name,
        "same_day": event.starts_on == event.ends_on,
        "ticket": (participant.ticket.name + (f" ({participant.lot_name})" if participant.lot_name else ""))
        if participant.ticket_id
        else "",
        "amount_paid": format_price(participant.amount) if participant.paid_at and participant.amount else "",
        "qr_cid": QR_CID if participant.code else "",
    }


def confirmation_message(participant: Participant) -> EmailMultiAlternatives:
    """The pt-BR confirmation e-mail (text + HTML) for ``participant``."""
    with translation.override(settings.LANGUAGE_CODE):
        context = confirmation_context(participant)
        subject = _("Inscrição confirmada: %(event)s") % {"event": str(context["event"])}
        text = render_to_string("registrations/email/confirmation.txt", context)
        html = render_to_string("registrations/email/confirmation.html", context)
    reply_to = [context["event"].contact_email] if context["event"].contact_email else None
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[participant.email],
        reply_to=reply_to,
    )
    message.attach_alternative(html, "text/html")
    if participant.code:
        # The check-in QR (the signed registration code), inline in the HTML (cid:) and as a file.
        from email.mime.image import MIMEImage

        from registrations.codes import qr_png

        image = MIMEImage(qr_png(participant.code), _subtype="png")
        image.add_header("Content-ID", f"<{QR_CID}>")
        image.add_header("Content-Disposition", "inline", filename=f"{participant.code}.png")
        message.attach(image)
        message.mixed_subtype = "related"
    return message


def _smtp_is_transient(error: smtplib.SMTPException) -> bool:
    if isinstance(error, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in error.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return False
    code = getattr(error, "smtp_code", None)
    return isinstance(code, int) and 400 <= code < 500


def send_message(message: EmailMultiAlternatives) -> None:
    """Send ``message``; raise ``EmailError`` (transient or not) when it is not taken."""
    try:
        sent = message.send(fail_silently=False)
    except smtplib.SMTPException as error:
        kind = EmailTransientError if _smtp_is_transient(error) else EmailError
        raise kind(f"SMTP {type(error).__name__}: {error}") from error
    except (AnymailRecipientsRefused, AnymailInvalidAddress) as error:
        raise EmailError(f"ESP refused the address: {type(error).__name__}") from error
    except AnymailAPIError as error:
        # No status: the ESP could not be reached. 5xx and 429: try later.
        status = getattr(error, "status_code", None)
        kind = EmailTransientError if status is None or status >= 500 or status == 429 else EmailError
        raise kind(f"ESP HTTP {status}: {type(error).__name__}") from error
    except AnymailError as error:
        raise EmailError(f"ESP error: {type(error).__name__}") from error
    except (ConnectionError, TimeoutError, OSError) as error:
        raise EmailTransientError(f"connection to the mail server failed: {type(error).__name__}") from error
    if sent != 1:
        raise EmailTransientError("the mail backend reported nothing sent")
