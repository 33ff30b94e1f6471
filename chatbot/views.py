"""The public home page (``/``): what the event is, and how to talk to the assistant."""

from __future__ import annotations

import phonenumbers
import segno
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from chatbot.knowledge import format_date_range, get_active_event

GREETING = "oi"


def whatsapp_link(number: str) -> str:
    """``https://wa.me/5562999990000?text=oi`` for a Brazilian number typed any way, or ""."""
    try:
        parsed = phonenumbers.parse(number, "BR")
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(parsed):
        return ""
    digits = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
    return f"https://wa.me/{digits}?{urlencode({'text': GREETING})}"


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
        "whatsapp_display": event.assistant_whatsapp if link else "",
        "qr": mark_safe(qr_svg(link)) if link else "",  # noqa: S308 - segno's own SVG of our URL
    }
    return render(request, "public/home.html", context)
