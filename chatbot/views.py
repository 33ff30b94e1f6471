"""The public home page (``/``): what the event is, and how to talk to the assistant."""

from __future__ import annotations

import segno
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from chatbot.knowledge import format_date_range, get_active_event
from chatbot.models import assistant_number_e164
from registrations.export import format_phone_national

GREETING = "oi"


def whatsapp_link(number: str) -> str:
    """``https://wa.me/5562999990000?text=oi`` for a number typed any way, or ""."""
    e164 = assistant_number_e164(number)
    return f"https://wa.me/{e164.lstrip('+')}?{urlencode({'text': GREETING})}" if e164 else ""


def number_display(number: str) -> str:
    """``"5562996022027"`` -> ``"(62) 99602-2027"``."""
    return format_phone_national(assistant_number_e164(number))


def qr_svg(url: str) -> str:
    """The link as an inline SVG QR code (made here: the page loads nothing from elsewhere)."""
    return segno.make(url, error="m").svg_inline(scale=5, border=2, title="QR code: " + url)


@require_safe
@cache_control(public=True, max_age=60)
def home(request: HttpRequest) -> HttpResponse:
    event = get_active_event()
    link = whatsapp_link(event.assistant_whatsapp) if event and event.assistant_whatsapp else ""
    context = {
        "event": event,
        "dates": format_date_range(event) if event else "",
        "whatsapp_url": link,
        "whatsapp_display": number_display(event.assistant_whatsapp) if link else "",
        # Only web links: a value set outside the admin form never becomes a javascript: link.
        "website": event.website if event and event.website.lower().startswith(("https://", "http://")) else "",
        "qr": mark_safe(qr_svg(link)) if link else "",  # noqa: S308 - segno's own SVG of our URL
    }
    return render(request, "public/home.html", context)
