"""The event knowledge the bot answers from, built from what organizers edit.

Every fact the bot may state is turned into a small ``KnowledgeDoc`` (pt-BR
text formatted for WhatsApp): one per group of event facts (dates, venue,
contacts, about, registration, tickets, profiles), one per ticket category,
one per active FAQ entry, one per programme session and one summary per
programme day. Retrieval ranks these documents; the answerer sends the top few
to the LLM or replies with the best one offline.

Building the index costs a few queries and some CPU, so it is cached per
process and keyed by a version token stored in the Django cache. Saving or
deleting any knowledge row bumps the token (signals below), so an edit in the
admin is visible on the very next question in every process, including other
workers that share the Redis cache.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone, translation
from django.utils.dates import MONTHS, WEEKDAYS
from django.utils.translation import gettext as _

from chatbot.models import (
    Event,
    FAQEntry,
    Profile,
    ProgrammeSession,
    TicketCategory,
    TicketLot,
    UnansweredQuestion,
)

if TYPE_CHECKING:
    from chatbot.retrieval import Retriever

logger = logging.getLogger(__name__)

VERSION_CACHE_KEY = "chatbot:knowledge:version"
# When the shared cache cannot be read (Redis down), a process rebuilds its
# index at most this often instead of on every question.
_UNVERSIONED_TTL_S = 5.0
# Registrations take and free seats with update()s that send no signal: ticket
# documents that depend on seats (a capacity, a lot sold by quantity) are read
# again after this long, so "esgotada" is at most this late.
_SEATS_RECHECK_S = 60.0


class DocKind:
    EVENT = "event"
    TICKET = "ticket"
    FAQ = "faq"
    SESSION = "session"
    DAY = "day"


@dataclass(frozen=True)
class KnowledgeDoc:
    """One piece of event knowledge.

    ``id`` is stable ("faq:12", "event:venue", "session:40", "ticket:3",
    "day:2027-05-11"); ``text`` is ready to send on WhatsApp (pt-BR, *bold*
    WhatsApp style, no markdown headings); ``keywords`` are extra search
    terms that are never shown; ``search_text``, when set, is indexed instead
    of ``text`` (a day's summary repeats every session title, and a session's
    date line would make weekday names too common to tell days apart).
    """

    id: str
    title: str
    text: str
    kind: str
    keywords: str = ""
    search_text: str | None = None


@dataclass
class KnowledgeIndex:
    """The documents of the active event and the retriever built over them.

    ``version`` names what the documents say (the answer cache keys on it):
    the shared token plus a digest of the ticket documents, whose prices and
    seats change with time and registrations, not only with edits.
    """

    event: Event | None
    docs: list[KnowledgeDoc]
    version: str
    # The event's active profiles, in order (the registration offers these).
    profiles: tuple[Profile, ...] = ()
    built_at: float = field(default_factory=time.monotonic)
    # The shared version token it was built for ("" when the cache was down).
    token: str = ""
    # When the ticket documents must be read again (a lot starts or ends, or
    # seats were counted); None = only an edit changes them.
    tickets_expire_at: dt.datetime | None = None
    tickets_digest: str = ""
    _retriever: Retriever | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            from chatbot.retrieval import Retriever

            with self._lock:
                if self._retriever is None:
                    self._retriever = Retriever(self.docs)
        return self._retriever

    def doc(self, doc_id: str) -> KnowledgeDoc | None:
        return next((d for d in self.docs if d.id == doc_id), None)


# --------------------------------------------------------------------------
# Formatting helpers (pt-BR, WhatsApp)
# --------------------------------------------------------------------------


def format_day(day: dt.date, *, with_weekday: bool = True, with_year: bool = False) -> str:
    """``terça-feira, 11 de maio`` (pt-BR months and weekdays are lower case)."""
    text = f"{day.day} de {str(MONTHS[day.month]).lower()}"
    if with_year:
        text += f" de {day.year}"
    if with_weekday:
        text = f"{str(WEEKDAYS[day.weekday()]).lower()}, {text}"
    return text


def format_time(value: dt.time) -> str:
    """``8h``, ``17h30`` (pt-BR style)."""
    return f"{value.hour}h{value.minute:02d}" if value.minute else f"{value.hour}h"


def format_price(value: Decimal) -> str:
    """``Decimal("1250.5")`` -> ``R$ 1.250,50``; zero reads as "gratuito"."""
    if not value:
        return _("gratuito")
    whole, cents = f"{value:.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    return f"R$ {grouped},{cents}"


def format_date_range(event: Event) -> str:
    start, end = event.starts_on, event.ends_on
    if start == end:
        return format_day(start, with_year=True)
    return _("de %(start)s a %(end)s") % {
        "start": format_day(start, with_year=start.year != end.year),
        "end": format_day(end, with_year=True),
    }


def event_display_name(event: Event) -> str:
    return str(event)


def event_contact_line(event: Event | None) -> str:
    """One line with the organizers' contacts, or "" when none is configured.

    Other modules append it to replies that send the participant to a person.
    """
    if event is None:
        return ""
    parts: list[str] = []
    if event.contact_email:
        parts.append(_("e-mail %(email)s") % {"email": event.contact_email})
    if event.contact_whatsapp:
        parts.append(_("WhatsApp %(number)s") % {"number": event.contact_whatsapp})
    if event.website:
        parts.append(_("site %(url)s") % {"url": event.website})
    return " · ".join(parts)


# --------------------------------------------------------------------------
# Building the documents
# --------------------------------------------------------------------------


def get_active_event() -> Event | None:
    """The event the bot talks about (the cached copy; do not save it)."""
    return get_knowledge_index().event


def _load_active_event() -> Event | None:
    return Event.objects.filter(is_active=True).first()


def _event_docs(event: Event, ticket_docs: list[KnowledgeDoc], profiles: list[Profile]) -> list[KnowledgeDoc]:
    name = event_display_name(event)
    docs: list[KnowledgeDoc] = []

    when = _("O *%(name)s* acontece %(dates)s.") % {"name": name, "dates": format_date_range(event)}
    if event.hours:
        when += "\n" + _("Horário: %(hours)s.") % {"hours": event.hours.rstrip(".")}
    docs.append(
        KnowledgeDoc(
            id="event:dates",
            title=_("Datas e horário"),
            text=when,
            kind=DocKind.EVENT,
            keywords="quando, data, datas, dia, dias, horario, hora, horas, comeca, inicio, termina, "
            "encerra, abertura, periodo, mes, acontece, sera",
        )
    )

    address = event.address
    if event.city and event.city.lower() not in address.lower():
        address += f" — {event.city}/{event.uf}"
    docs.append(
        KnowledgeDoc(
            id="event:venue",
            title=_("Local e endereço"),
            text=_("📍 Local: *%(venue)s*\nEndereço: %(address)s") % {"venue": event.venue, "address": address},
            kind=DocKind.EVENT,
            keywords=f"onde, local, lugar, endereco, fica, localizacao, chegar, mapa, cidade, {event.city}, "
            f"{event.venue}, rua, avenida, realizado",
        )
    )

    contact_lines = []
    if event.contact_email:
        contact_lines.append(_("📧 E-mail: %(email)s") % {"email": event.contact_email})
    if event.contact_whatsapp:
        contact_lines.append(_("📱 WhatsApp: %(number)s") % {"number": event.contact_whatsapp})
    if event.website:
        contact_lines.append(_("🌐 Site: %(url)s") % {"url": event.website})
    if contact_lines:
        docs.append(
            KnowledgeDoc(
                id="event:contacts",
                title=_("Site e contatos da organização"),
                text=_("Fale com a organização do %(name)s:") % {"name": name} + "\n" + "\n".join(contact_lines),
                kind=DocKind.EVENT,
                keywords="contato, contatos, email, e-mail, telefone, whatsapp, site, pagina, organizacao, "
                "organizadores, falar, atendimento, duvidas, comissao, suporte, instagram",
            )
        )

    about = [f"*{name}*"]
    if event.theme:
        about.append(_("Tema: %(theme)s") % {"theme": event.theme})
    if event.description:
        about.append(event.description.strip())
    docs.append(
        KnowledgeDoc(
            id="event:about",
            title=_("Sobre o evento"),
            text="\n".join(about),
            kind=DocKind.EVENT,
            keywords="sobre, tema, objetivo, evento, congresso, publico, proposta, o que e, assunto, edicao",
        )
    )

    if event.registration_open:
        registration = _(
            "✅ As inscrições para o %(name)s estão *abertas*. Você pode se inscrever aqui mesmo nesta "
            "conversa: é só escrever *quero me inscrever*."
        ) % {"name": name}
    else:
        registration = _("As inscrições para o %(name)s estão *encerradas* no momento.") % {"name": name}
        contact = event_contact_line(event)
        if contact:
            registration += " " + _("Dúvidas: %(contact)s.") % {"contact": contact}
    docs.append(
        KnowledgeDoc(
            id="event:registration",
            title=_("Inscrições"),
            text=registration,
            kind=DocKind.EVENT,
            keywords="inscricao, inscricoes, inscrever, cadastro, cadastrar, abertas, encerradas, vagas, "
            "participar, como, garantir",
        )
    )

    docs += ticket_docs

    if profiles:
        names = ", ".join(p.name for p in profiles)
        docs.append(
            KnowledgeDoc(
                id="event:profiles",
                title=_("Perfis de participante"),
                text=_("Na inscrição você escolhe um destes perfis: %(names)s.") % {"names": names},
                kind=DocKind.EVENT,
                keywords="perfil, perfis, categoria, tipo, participante, publico, quem, pode "
                + " ".join(p.keywords.replace(",", " ") for p in profiles),
            )
        )
    return docs


def _faq_docs(faqs: list[FAQEntry]) -> list[KnowledgeDoc]:
    return [
        KnowledgeDoc(
            id=f"faq:{faq.pk}",
            title=faq.question,
            text=faq.answer.strip(),
            kind=DocKind.FAQ,
            keywords=faq.keywords,
        )
        for faq in faqs
    ]


def _session_line(session: ProgrammeSession) -> str:
    time_range = format_time(session.start_time)
    if session.end_time:
        time_range += f"–{format_time(session.end_time)}"
    line = f"{time_range} · {session.title}"
    if session.room:
        line += f" ({session.room})"
    return line


def _programme_docs(sessions: list[ProgrammeSession]) -> list[KnowledgeDoc]:
    docs: list[KnowledgeDoc] = []
    by_day: dict[dt.date, list[ProgrammeSession]] = {}
    for session in sessions:
        by_day.setdefault(session.day, []).append(session)
        when = f"{format_day(session.day)}, {format_time(session.start_time)}"
        if session.end_time:
            when += f"–{format_time(session.end_time)}"
        lines = [f"🗓️ *{session.title}*", when + (f" · {session.room}" if session.room else "")]
        if session.speakers:
            lines.append(_("Com: %(speakers)s") % {"speakers": session.speakers})
        if session.description:
            lines.append(session.description.strip())
        docs.append(
            KnowledgeDoc(
                id=f"session:{session.pk}",
                title=session.title,
                text="\n".join(lines),
                kind=DocKind.SESSION,
                keywords="palestra",
                search_text=" ".join(
                    filter(None, [session.title, session.speakers, session.room, session.description])
                ),
            )
        )
    for number, (day, day_sessions) in enumerate(sorted(by_day.items()), start=1):
        lines = [_("🗓️ *Programação de %(day)s*") % {"day": format_day(day)}]
        lines += [f"• {_session_line(s)}" for s in day_sessions]
        ordinal = {1: "primeiro", 2: "segundo", 3: "terceiro", 4: "quarto", 5: "quinto"}.get(number, "")
        docs.append(
            KnowledgeDoc(
                id=f"day:{day.isoformat()}",
                title=_("Programação de %(day)s") % {"day": format_day(day)},
                text="\n".join(lines),
                kind=DocKind.DAY,
                keywords=f"programacao, agenda, cronograma, grade, atividades, manha, tarde, dia {day.day}, "
                f"{ordinal} dia, {str(WEEKDAYS[day.weekday()]).lower()}, {day:%d/%m}",
                search_text="",
            )
        )
    return docs


def knowledge_documents(event: Event | None) -> list[KnowledgeDoc]:
    """All documents of ``event`` (pt-BR), freshly read from the database."""
    if event is None:
        return []
    with translation.override(settings.LANGUAGE_CODE):
        tickets = list(event.tickets.all())
        profiles = list(event.profiles.filter(active=True))
        faqs = list(event.faqs.filter(active=True))
        sessions = list(event.sessions.all())
        return _event_docs(event, tickets, profiles) + _faq_docs(faqs) + _programme_docs(sessions)


# --------------------------------------------------------------------------
# Cache, keyed by a shared version token
# --------------------------------------------------------------------------

_local_lock = threading.Lock()
_local_index: KnowledgeIndex | None = None


def _current_version() -> str | None:
    """The shared version token, created when missing; ``None`` if the cache is down."""
    version = cache.get(VERSION_CACHE_KEY)
    if version is None:
        cache.add(VERSION_CACHE_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_CACHE_KEY)
    return version


# Inside knowledge_snapshot(): the index this thread's turn already read.
_snapshot = threading.local()


@contextlib.contextmanager
def knowledge_snapshot() -> Iterator[None]:
    """One engine turn reads the shared version once: every
    ``get_knowledge_index()`` inside the block (the event, the profiles,
    the answer's retrieval) gets the index the first one got. A turn then
    never mixes two versions of the knowledge, and saves a cache round trip
    per further read; an edit is seen from the next turn on."""
    if getattr(_snapshot, "active", False):
        yield  # nested: the outer block owns the snapshot
        return
    _snapshot.active, _snapshot.index = True, None
    try:
        yield
    finally:
        _snapshot.active, _snapshot.index = False, None


def get_knowledge_index() -> KnowledgeIndex:
    """The current index, rebuilt only when the knowledge changed since."""
    if getattr(_snapshot, "active", False):
        if _snapshot.index is None:
            _snapshot.index = _current_index()
        return _snapshot.index
    return _current_index()


def _current_index() -> KnowledgeIndex:
    global _local_index
    version = _current_version()
    index = _local_index
    if index is not None and _is_fresh(index, version):
        return index
    with _local_lock:
        index = _local_index
        if index is not None and _is_fresh(index, version):
            return index
        event = _load_active_event()
        profiles = tuple(event.profiles.filter(active=True).order_by("order", "id")) if event is not None else ()
        index = KnowledgeIndex(event=event, docs=knowledge_documents(event), version=version or "", profiles=profiles)
        _local_index = index
        logger.info("Knowledge index built: %d documents", len(index.docs))
        return index


def _is_fresh(index: KnowledgeIndex, version: str | None) -> bool:
    if version is None:
        return index.version == "" and time.monotonic() - index.built_at < _UNVERSIONED_TTL_S
    return index.version == version


def knowledge_invalidate() -> None:
    """Make every process rebuild its index on its next question."""
    global _local_index
    cache.set(VERSION_CACHE_KEY, uuid.uuid4().hex, timeout=None)
    with _local_lock:
        _local_index = None


def _on_knowledge_change(sender, **kwargs) -> None:
    # Bump now, so this process (and tests, which never commit) see the change,
    # and again after commit: another process could have rebuilt from the old
    # rows between the first bump and the commit.
    knowledge_invalidate()
    transaction.on_commit(knowledge_invalidate)


for _model in (Event, TicketCategory, Profile, FAQEntry, ProgrammeSession):
    post_save.connect(_on_knowledge_change, sender=_model, dispatch_uid=f"knowledge-save-{_model.__name__}")
    post_delete.connect(_on_knowledge_change, sender=_model, dispatch_uid=f"knowledge-delete-{_model.__name__}")


# --------------------------------------------------------------------------
# Services organizers use from the admin
# --------------------------------------------------------------------------


def unanswered_question_answer(*, question: UnansweredQuestion, answer: str, keywords: str = "") -> FAQEntry:
    """Turn an organizer's answer into an FAQ entry the bot uses at once.

    Marks the question answered and links the new entry. Raises ``ValueError``
    when the answer is empty or no event is active.
    """
    answer = answer.strip()
    if not answer:
        raise ValueError("empty answer")
    with transaction.atomic():
        locked = UnansweredQuestion.objects.select_for_update().get(pk=question.pk)
        if locked.faq_id is not None:
            faq = locked.faq
            faq.answer = answer
            faq.save(update_fields=["answer", "updated_at"])
        else:
            event = Event.objects.filter(is_active=True).first()
            if event is None:
                raise ValueError("no active event")
            faq = FAQEntry.objects.create(
                event=event, question=locked.question[:300], answer=answer, keywords=keywords[:300]
            )
        locked.answer = answer
        locked.status = UnansweredQuestion.Status.ANSWERED
        locked.faq = faq
        locked.save(update_fields=["answer", "status", "faq"])
    question.refresh_from_db()
    return faq
