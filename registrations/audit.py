"""Record who exported or bulk-changed data in the admin (LGPD accountability)."""

from __future__ import annotations

from django.http import HttpRequest

from registrations.models import ExportRecord


def admin_action_record(*, request: HttpRequest, action: str, row_count: int, filters: str = "") -> ExportRecord:
    user = request.user if request.user.is_authenticated else None
    return ExportRecord.objects.create(
        user=user,
        actor=request.user.get_username() if user else "anonymous",
        action=action[:64],
        row_count=row_count,
        filters=filters[:1000],
    )
