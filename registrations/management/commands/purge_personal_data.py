"""Retention (LGPD): anonymize personal data of an ended event and erase old
message bodies.

    python manage.py purge_personal_data --after-event-days 90 [--messages-older-than-days 30] [--dry-run]
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from registrations.privacy import purge_personal_data


class Command(BaseCommand):
    help = "Anonimiza dados pessoais após o evento e apaga textos antigos de mensagens."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--after-event-days", type=int, default=settings.RETENTION_AFTER_EVENT_DAYS)
        parser.add_argument("--messages-older-than-days", type=int, default=settings.MESSAGE_BODY_RETENTION_DAYS)
        parser.add_argument("--dry-run", action="store_true", help="only count what would be erased")

    def handle(self, *args, after_event_days: int, messages_older_than_days: int, dry_run: bool, **options) -> None:
        counts = purge_personal_data(
            after_event_days=after_event_days, message_days=messages_older_than_days, dry_run=dry_run, actor="purge_personal_data"
        )
        prefix = "would erase" if dry_run else "erased"
        self.stdout.write(f"{prefix}: " + " ".join(f"{k}={v}" for k, v in counts.items()))
