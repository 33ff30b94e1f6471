"""Participant filters shared by the admin export and ``export_participants``."""

from __future__ import annotations

import datetime as dt
import re

from django.db.models import Q, QuerySet

from registrations.models import Participant


def search_q(term: str) -> Q:
    """Search by name, e-mail, phone or CPF, typed with or without punctuation."""
    term = term.strip()
    q = Q(full_name__icontains=term) | Q(email__icontains=term)
    digits = re.sub(r"\D", "", term)
    # Only treat the term as a number when it is mostly digits ("123.456", "(61) 9999").
    if len(digits) >= 3 and len(digits) >= len(re.sub(r"\s", "", term)) * 0.6:
        q |= Q(cpf__contains=digits) | Q(phone__contains=digits)
    return q


def filter_participants(
    queryset: QuerySet[Participant] | None = None,
    *,
    status: str | None = None,
    uf: str | None = None,
    profile: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    search: str | None = None,
) -> QuerySet[Participant]:
    qs = Participant.objects.all() if queryset is None else queryset
    if status:
        qs = qs.filter(status=status)
    if uf:
        qs = qs.filter(uf=uf.upper())
    if profile:
        qs = qs.filter(profile__name__iexact=profile) if not profile.isdigit() else qs.filter(profile_id=int(profile))
    if since:
        qs = qs.filter(created_at__date__gte=since)
    if until:
        qs = qs.filter(created_at__date__lte=until)
    if search:
        qs = qs.filter(search_q(search))
    return qs
