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


# --------------------------------------------------------------------------
# Ticket documents: the price today, the lots, who may buy, the seats
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketDocs:
    """The ticket documents of an event at one moment, and until when they hold."""

    docs: list[KnowledgeDoc]
    # The next moment they may read differently without an edit: a lot starts
    # or ends, or (seats being limited) the seat counts are due again.
    expire_at: dt.datetime | None = None

    @property
    def digest(self) -> str:
        text = "\x1e".join(f"{doc.id}\x1f{doc.text}" for doc in self.docs)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def format_moment(value: dt.datetime, *, until: bool = False) -> str:
    """``01/04/2027`` at local midnight, else ``31/03/2027 às 18h``.

    With ``until`` a midnight reads as the day before: a lot that ends on
    01/04 at 0h is sold "até 31/03".
    """
    local = timezone.localtime(value)
    if local.time() == dt.time.min:
        day = local.date() - dt.timedelta(days=1) if until else local.date()
        return f"{day:%d/%m/%Y}"
    return _("%(day)s às %(time)s") % {"day": f"{local:%d/%m/%Y}", "time": format_time(local.time())}


@dataclass(frozen=True)
class _TicketFacts:
    """What one category's documents say, computed once for the summary and its own document."""

    category: TicketCategory
    amount: Decimal
    lot: TicketLot | None  # the current lot; None = the category's own price
    after: str  # what it costs after the current lot ("" = nothing announced)
    buyers: list[str]  # the active profiles that may choose it ([] = anyone)
    full: bool


def _current_lot(lots: list[TicketLot], lot_name: str, ends_at: dt.datetime | None) -> int | None:
    return (
        next((i for i, lot in enumerate(lots) if lot.name == lot_name and lot.ends_at == ends_at), None)
        if lot_name
        else None
    )


def _after_text(
    category: TicketCategory, lots: list[TicketLot], current: int | None, *, now: dt.datetime, sold: dict[str, int]
) -> str:
    """The price that follows today's: the next lot still to come, or the category's price once the last lot ends."""
    for lot in lots[current + 1 :] if current is not None else lots:
        if (lot.ends_at is not None and lot.ends_at <= now) or (
            lot.quantity is not None and sold.get(lot.name, 0) >= lot.quantity
        ):
            continue
        price = format_price(lot.price)
        if lot.starts_at is not None and lot.starts_at > now:
            return _("a partir de %(when)s, %(price)s (%(lot)s)") % {
                "when": format_moment(lot.starts_at),
                "price": price,
                "lot": lot.name,
            }
        return _("depois, %(price)s (%(lot)s)") % {"price": price, "lot": lot.name}
    if current is not None and lots[current].ends_at is not None and category.price != lots[current].price:
        return _("depois, %(price)s") % {"price": format_price(category.price)}
    return ""


def _today_text(facts: _TicketFacts) -> str:
    """``R$ 480,00 (1º lote, inscrições até 31/03/2027)``."""
    text = format_price(facts.amount)
    lot = facts.lot
    if lot is not None:
        if lot.ends_at is not None:
            until = _("inscrições até %(when)s") % {"when": format_moment(lot.ends_at, until=True)}
            if lot.quantity is not None:
                until += " " + _("ou enquanto durar")
        else:
            until = _("enquanto durar") if lot.quantity is not None else ""
        text += f" ({lot.name}, {until})" if until else f" ({lot.name})"
    return text


def _summary_line(facts: _TicketFacts) -> str:
    category = facts.category
    if facts.amount <= 0:
        line = f"• {category.name}: {format_price(facts.amount)}"
    else:
        line = f"• {category.name}: {_today_text(facts)}"
        if facts.after:
            line += f"; {facts.after}"
    if category.description:
        line += f" — {category.description.rstrip('.')}"
    line += "."
    if category.proof:
        line += " " + _("Exige %(proof)s.") % {"proof": str(category.get_proof_display()).lower()}
    if facts.full:
        line += " " + _("*Esgotada — lista de espera.*")
    return line


def _category_text(facts: _TicketFacts) -> str:
    category = facts.category
    if facts.amount <= 0:
        lines = [_("🎟️ *%(name)s*: gratuita — a inscrição é confirmada na hora.") % {"name": category.name}]
    else:
        lines = [f"🎟️ *{category.name}*: {_today_text(facts)}"]
        if facts.after:
            lines.append(facts.after[0].upper() + facts.after[1:] + ".")
    if category.description:
        lines.append(category.description[0].upper() + category.description[1:].rstrip(".") + ".")
    if facts.buyers:
        lines.append(_("Quem pode escolher: %(profiles)s.") % {"profiles": ", ".join(facts.buyers)})
    else:
        lines.append(_("Qualquer perfil pode escolher."))
    if category.proof:
        lines.append(
            _(
                "📎 Exige %(proof)s: na inscrição, envie aqui no chat a foto ou o PDF do comprovante; a organização confere."
            )
            % {"proof": str(category.get_proof_display()).lower()}
        )
    if facts.full:
        lines.append(
            _("⚠️ *Esgotada — lista de espera*: se uma vaga abrir, ela é oferecida aqui no chat a quem está na fila.")
        )
    return "\n".join(lines)


def ticket_documents(event: Event, *, now: dt.datetime) -> TicketDocs:
    """The "event:tickets" summary and one document per active category, as they read at ``now``.

    Prices are the current lot's, by the rule the registration charges
    (``payments.tickets.current_price``); a category whose seats, or the
    event's, are all held reads "esgotada — lista de espera". Three queries
    (categories, lots, profiles), and one more counting the held seats when
    a capacity or a lot quantity is set, whatever the number of categories.
    """
    with translation.override(settings.LANGUAGE_CODE):
        return _ticket_documents(event, now=now)


def _ticket_documents(event: Event, *, now: dt.datetime) -> TicketDocs:
    # payments imports this module (format_price): import it here.
    from payments.tickets import current_price, seat_holders_q
    from registrations.models import Participant

    categories = list(event.tickets.filter(active=True).prefetch_related("lots", "profiles"))
    if not categories:
        return TicketDocs(docs=[])
    lots = {c.pk: sorted(c.lots.all(), key=lambda lot: (lot.order, lot.pk)) for c in categories}
    counted = event.capacity is not None or any(
        c.capacity is not None or any(lot.quantity is not None for lot in lots[c.pk]) for c in categories
    )
    held: dict[int | None, dict[str, int]] = {}
    if counted:
        rows = (
            Participant.objects.filter(seat_holders_q(now), profile__event=event)
            .order_by()
            .values("ticket_id", "lot_name")
            .annotate(n=Count("id"))
            .values_list("ticket_id", "lot_name", "n")
        )
        for ticket_id, lot_name, n in rows:
            held.setdefault(ticket_id, {})[lot_name] = n
    event_full = (
        event.capacity is not None and sum(n for by_lot in held.values() for n in by_lot.values()) >= event.capacity
    )

    moments = [now + dt.timedelta(seconds=_SEATS_RECHECK_S)] if counted else []
    all_facts: list[_TicketFacts] = []
    for category in categories:
        sold = held.get(category.pk, {})
        category_lots = lots[category.pk]
        price = current_price(category, now=now, lots=category_lots, sold=sold)
        current = _current_lot(category_lots, price.lot_name, price.lot_ends_at)
        moments += [m for lot in category_lots for m in (lot.starts_at, lot.ends_at) if m is not None and m > now]
        profiles = sorted((p for p in category.profiles.all() if p.active), key=lambda p: (p.order, p.pk))
        all_facts.append(
            _TicketFacts(
                category=category,
                amount=price.amount,
                lot=category_lots[current] if current is not None else None,
                after=_after_text(category, category_lots, current, now=now, sold=sold),
                buyers=[p.name for p in profiles],
                full=event_full or (category.capacity is not None and sum(sold.values()) >= category.capacity),
            )
        )

    lines = [_("💰 *Ingressos e valores*")]
    if event_full:
        lines.append(_("⚠️ As vagas do evento esgotaram: novas inscrições entram na *lista de espera*."))
    lines += [_summary_line(facts) for facts in all_facts]
    docs = [
        KnowledgeDoc(
            id="event:tickets",
            title=_("Ingressos e preços"),
            text="\n".join(lines),
            kind=DocKind.EVENT,
            keywords="preco, precos, valor, valores, quanto, custa, custo, ingresso, ingressos, taxa, pagar, "
            "pago, categoria, lote, gratuito, gratis, reais",
        )
    ]
    docs += [
        KnowledgeDoc(
            id=f"ticket:{facts.category.pk}", title=facts.category.name, text=_category_text(facts), kind=DocKind.TICKET
        )
        for facts in all_facts
    ]
    return TicketDocs(docs=docs, expire_at=min(moments, default=None))


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


def knowledge_documents(event: Event | None, *, now: dt.datetime | None = None) -> list[KnowledgeDoc]:
    """All documents of ``event`` (pt-BR), freshly read from the database; ticket prices as of ``now``."""
    return _build_documents(event, now=now or _now())[0]


def _build_documents(event: Event | None, *, now: dt.datetime) -> tuple[list[KnowledgeDoc], TicketDocs]:
    if event is None:
        return [], TicketDocs(docs=[])
    with translation.override(settings.LANGUAGE_CODE):
        tickets = ticket_documents(event, now=now)
        profiles = list(event.profiles.filter(active=True))
        faqs = list(event.faqs.filter(active=True))
        sessions = list(event.sessions.all())
        return _event_docs(event, tickets.docs, profiles) + _faq_docs(faqs) + _programme_docs(sessions), tickets


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
    token = _current_version()
    now = _now()
    index = _local_index
    if index is not None and _is_fresh(index, token) and not _tickets_due(index, now):
        return index
    with _local_lock:
        index = _local_index
        if index is not None and _is_fresh(index, token):
            if not _tickets_due(index, now):
                return index
            # Only time passed (a lot boundary, or seats to count again): the
            # index, its retriever and its version stand unless the ticket
            # documents now read differently.
            tickets = ticket_documents(index.event, now=now)
            if tickets.digest == index.tickets_digest:
                index.tickets_expire_at = tickets.expire_at
                return index
        event = _load_active_event()
        profiles = tuple(event.profiles.filter(active=True).order_by("order", "id")) if event is not None else ()
        docs, tickets = _build_documents(event, now=now)
        index = KnowledgeIndex(
            event=event,
            docs=docs,
            # Without a shared token the answer cache is off ("" version).
            version=f"{token}.{tickets.digest}" if token else "",
            profiles=profiles,
            token=token or "",
            tickets_expire_at=tickets.expire_at,
            tickets_digest=tickets.digest,
        )
        _local_index = index
        logger.info("Knowledge index built: %d documents", len(index.docs))
        return index


def _now() -> dt.datetime:
    # The clock lot boundaries and seat rechecks are read against (tests move it).
    return timezone.now()


def _is_fresh(index: KnowledgeIndex, token: str | None) -> bool:
    if token is None:
        return index.token == "" and time.monotonic() - index.built_at < _UNVERSIONED_TTL_S
    return index.token == token


def _tickets_due(index: KnowledgeIndex, now: dt.datetime) -> bool:
    return index.event is not None and index.tickets_expire_at is not None and now >= index.tickets_expire_at


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


for _model in (Event, TicketCategory, TicketLot, Profile, FAQEntry, ProgrammeSession):
    post_save.connect(_on_knowledge_change, sender=_model, dispatch_uid=f"knowledge-save-{_model.__name__}")
    post_delete.connect(_on_knowledge_change, sender=_model, dispatch_uid=f"knowledge-delete-{_model.__name__}")


def _on_ticket_profiles_change(sender, action: str, **kwargs) -> None:
    # Who may buy a category is in its document (the admin saves the M2M
    # after the category itself, with no post_save of its own).
    if action.startswith("post_"):
        _on_knowledge_change(sender, **kwargs)


m2m_changed.connect(
    _on_ticket_profiles_change, sender=TicketCategory.profiles.through, dispatch_uid="knowledge-m2m-ticket-profiles"
)


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
