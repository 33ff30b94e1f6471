"""Participant filters shared by the admin export and ``export_participants``."""

from __future__ import annotations

import datetime as dt
import re

from django.db.models import Q, QuerySet

from registrations.models import Participant
from registrations.validators import fold


def search_q(term: str, *, full_cpf: bool = True) -> Q:
    """Search by name, e-mail or city ignoring accents and case, or by phone or
    CPF typed with or without punctuation.

    Every word must appear in ``search_text`` (folded the same way), so
    "jose silva" finds "José da Silva" and "conceicao" finds "Conceição" on
    PostgreSQL and SQLite alike.

    ``full_cpf=False`` (a viewer who sees CPFs masked): a CPF matches only when
    typed in full, so partial digits cannot be used to uncover the hidden ones.
    """
    words = fold(term).split()
    q = Q()
    for word in words:
        q &= Q(search_text__contains=word)
    if not words:
        return Q(pk__in=[])
    digits = re.sub(r"\D", "", term)
    # Only treat the term as a number when it is mostly digits ("123.456", "(61) 9999").
    if len(digits) >= 3 and len(digits) >= len(re.sub(r"\s", "", term)) * 0.6:
        q |= Q(phone__contains=digits)
        if full_cpf:
            q |= Q(cpf__contains=digits)
        elif len(digits) == 11:
            q |= Q(cpf=digits)
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
