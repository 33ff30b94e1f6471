"""The public privacy notice the consent step points to."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chatbot.models import Event


def privacy_notice(request: HttpRequest) -> HttpResponse:
    event = Event.objects.filter(is_active=True).first()
    context = {
        "event": event,
        "version": event.privacy_notice_version if event else settings.PRIVACY_NOTICE_VERSION,
        "controller": str(event) if event else "a organização do congresso",
        "retention_days": settings.RETENTION_AFTER_EVENT_DAYS,
    }
    return render(request, "legal/privacy_notice.html", context)
