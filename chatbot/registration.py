"""The engine's adapter to the registration flow.

``registration_turn`` is called by ``chatbot.engine`` for every message after
the router (``chatbot.router``) has said what it is. It decides whether the
message belongs to the registration, gathers what the pure flow
(``registrations.flow``) needs (event, profiles, the conversation's own
registration, who holds the CPFs and e-mails in the message), runs
:func:`registrations.flow.advance`, executes the effects through the
registration services, records step changes in the audit trail, and writes
the new step and data back onto the conversation (in memory: the engine saves
it with its version check, in the same transaction as the writes made here).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chatbot.knowledge import event_contact_line, get_knowledge_index
from chatbot.models import ConversationState, Event, Profile
from chatbot.router import Routed, route
from registrations import flow, places, services
from registrations.models import ACTIVE_STATUSES, Participant, RegistrationEvent
from registrations.steps import RegistrationStep
from registrations.validators import find_phone, mask_email, strip_cpfs

logger = logging.getLogger(__name__)

Answer = Callable[[str], str]


def registration_turn(
    *,
    conversation: ConversationState,
    text: str,
    intent: str | None = None,
    answer: Answer,
    routed: Routed | None = None,
) -> list[str] | None:
    """Run the registration for one message; ``None`` when it is not for us.

    ``routed`` is the router's reading of ``text`` (computed here when the
    caller has none). ``intent`` overrides its command: the engine's menu
    options ("register", "register_other", "my_registration"). Returns the
    pt-BR replies, having updated ``conversation.registration_step`` and
    ``conversation.data`` in memory.
    """
    state = flow.FlowState.from_data(conversation.registration_step, conversation.data)
    if routed is None:
        routed = route(text, in_flow=state.step in flow.IN_FLOW_STEPS)
    understood = routed.for_flow()
    if intent is not None:
        understood = flow.Understood(intent=intent, question=False, field=understood.field)
    if not flow.wants_turn(state, understood, turn=conversation.turns):
        return None
    # No savepoint of its own inside the engine's transaction: nothing between
    # here and that transaction catches an error, so it would only cost two
    # round trips per turn.
    with transaction.atomic(savepoint=False):
        index = get_knowledge_index()
        event = index.event
        rows = _rows(conversation)
        own = _own_registration(conversation, rows, with_status=understood.intent in _SELF_SERVICE_INTENTS)
        ctx = _context(
            event, own, conversation, understood=understood, keys=flow.lookup_keys(state, text), profiles=index.profiles,
            tickets=_ticket_stage(state, own),
        )
        relatives = tuple(
            (row.full_name, row.status in ACTIVE_STATUSES) for row in relatives_of(conversation, rows)
        )
        if relatives:
            ctx = replace(ctx, relatives=relatives)
        new_state, replies, effects = flow.advance(state, text, ctx=ctx)
        if not replies and not effects:
            if new_state != state:
                _write(conversation, new_state)  # e.g. a stale self-service question dropped
            return None
        new_state, replies = _execute(conversation, state, new_state, replies, effects, ctx, answer)
        _record_step(conversation, state, new_state)
        _write(conversation, new_state)
    return replies


def pending_prompt(conversation: ConversationState) -> str:
    """The question the registration in progress waits for, asked again; "" when none is."""
    state = flow.FlowState.from_data(conversation.registration_step, conversation.data)
    if state.step not in flow.IN_FLOW_STEPS:
        return ""
    index = get_knowledge_index()
    ctx = _context(
        index.event, None, conversation, understood=flow.Understood(), keys=set(), profiles=index.profiles,
        tickets=_ticket_stage(state, None),
    )
    return flow.pending_question(state, ctx)


def _ticket_stage(state: flow.FlowState, own: flow.OwnRegistration | None) -> bool:
    """Whether this turn may need the ticket categories (read only then: a few queries)."""
    if state.step == RegistrationStep.ASKING_CONSENT:
        # Coming back after a cancellation or an expiry starts from the data on file (and its category).
        return own is not None and not own.active
    return bool(state.fields.get("profile")) or state.step in (RegistrationStep.ASKING_PROFILE, RegistrationStep.ASKING_TICKET)


def _write(conversation: ConversationState, state: flow.FlowState) -> None:
    # Keep whatever other keys the engine stores in data.
    others = {key: value for key, value in (conversation.data or {}).items() if key not in flow.FLOW_DATA_KEYS}
    conversation.registration_step = state.step
    conversation.data = {**others, **state.to_data()}


@functools.cache
def _own_select_sql() -> str:
    # Table names come from the models, the id is a parameter.
    return (
        "SELECT p.id, p.full_name, p.email, p.cpf, p.phone, p.city, p.uf, p.status,"  # noqa: S608
        " p.confirmation_email_status, pr.name, p.profile_id, p.city_ibge_code, p.district, p.code, p.ticket_id"
        f" FROM {Participant._meta.db_table} p JOIN {Profile._meta.db_table} pr ON pr.id = p.profile_id"
        " WHERE p.conversation_id = %s ORDER BY p.updated_at DESC, p.id DESC LIMIT 10"
    )


@dataclass(frozen=True)
class OwnRow:
    """The conversation's own participant, as read for one turn."""

    id: int
    full_name: str
    email: str
    cpf: str
    phone: str
    city: str
    uf: str
    status: str
    email_status: str
    profile_name: str
    profile_id: int
    city_ibge_code: int | None
    district: str
    code: str | None = None
    ticket_id: int | None = None

    @property
    def status_label(self) -> str:
        return str(Participant.Status(self.status).label)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def status_line(self) -> str:
        """Where a paid (or waitlisted, expired) registration stands, in words; "" for a plain free one."""
        if self.ticket_id is None and self.status in (Participant.Status.CONFIRMED, Participant.Status.CANCELLED):
            return ""  # a free event's registration: the usual summary (with the code) says it all
        from payments.services import status_text

        participant = Participant.objects.select_related("ticket", "profile").filter(pk=self.id).first()
        return status_text(participant) if participant is not None else ""

    def for_flow(self, *, with_status: bool = False) -> flow.OwnRegistration:
        """``with_status``: also where it stands in words (one more query; only for the self-service replies)."""
        return flow.OwnRegistration(
            id=self.id,
            full_name=self.full_name,
            email=self.email,
            cpf=self.cpf,
            phone=self.phone,
            city=self.city,
            uf=self.uf,
            profile_name=self.profile_name,
            active=self.active,
            email_status=self.email_status,
            profile_id=self.profile_id,
            city_ibge_code=self.city_ibge_code,
            district=self.district or "",
            status_line=self.status_line() if with_status else "",
            code=self.code or "",
        )


def _rows(conversation: ConversationState) -> list[OwnRow]:
    if conversation.pk is None:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_own_select_sql(), [conversation.pk])
        return [OwnRow(*row) for row in cursor.fetchall()]


def _relative_ids(conversation: ConversationState) -> set[int]:
    data = conversation.data if isinstance(conversation.data, dict) else {}
    return {int(pk) for pk in data.get("others") or () if str(pk).isdigit()}


def own_registration(conversation: ConversationState, rows: list[OwnRow] | None = None) -> OwnRow | None:
    """The conversation's own participant (not the people it registered for others), or None.

    Usually one row, sometimes a few (cancelled then registered again): the
    active one wins, else the most recent. One prepared statement (plain SQL,
    the same on PostgreSQL and SQLite): it runs on most turns, where the ORM
    would compile the query and build two model instances each time.
    """
    relatives = _relative_ids(conversation)
    mine = [row for row in (_rows(conversation) if rows is None else rows) if row.id not in relatives]
    return next((row for row in mine if row.active), mine[0] if mine else None)


def relatives_of(conversation: ConversationState, rows: list[OwnRow] | None = None) -> list[OwnRow]:
    """The registrations this conversation made for other people (spouse, child, employee)."""
    relatives = _relative_ids(conversation)
    return [row for row in (_rows(conversation) if rows is None else rows) if row.id in relatives]


_SELF_SERVICE_INTENTS = frozenset({"my_registration", "cancel_registration", "resend", "correct", "cancel"})


def _own_registration(
    conversation: ConversationState, rows: list[OwnRow], *, with_status: bool = False
) -> flow.OwnRegistration | None:
    row = own_registration(conversation, rows)
    return row.for_flow(with_status=with_status) if row is not None else None


def _owners(keys: set[str], conversation: ConversationState) -> tuple[dict[str, str], dict[str, flow.OtherRegistration]]:
    """Who holds each CPF / e-mail: "own" or "other", and the other registrations (id, masked e-mail).

    Active registrations decide "own"/"other"; a cancelled registration of
    another conversation is "other" too (it can be reactivated only from its
    own conversation), so the flow refuses it before the summary.
    """
    cpfs = {key[4:] for key in keys if key.startswith("cpf:")}
    emails = {key[6:] for key in keys if key.startswith("email:")}
    if not cpfs and not emails:
        return {}, {}
    # Plain SQL (the same on PostgreSQL and SQLite; LOWER(email) is the
    # unique index's expression): it runs on every step once an e-mail or
    # CPF is known, where the ORM would compile it each time.
    conditions, params = [], []
    if cpfs:
        conditions.append(f"cpf IN ({', '.join(['%s'] * len(cpfs))})")
        params += sorted(cpfs)
    if emails:
        conditions.append(f"LOWER(email) IN ({', '.join(['%s'] * len(emails))})")
        params += sorted(emails)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, cpf, email, conversation_id, status FROM {Participant._meta.db_table}"  # noqa: S608 - placeholders only
            f" WHERE ({' OR '.join(conditions)})",
            params,
        )
        rows = cursor.fetchall()
    owners: dict[str, str] = {}
    others: dict[str, flow.OtherRegistration] = {}
    # Active rows first, so an active registration wins over a cancelled one.
    for pk, cpf, email, conversation_pk, status in sorted(rows, key=lambda row: row[4] not in ACTIVE_STATUSES):
        active = status in ACTIVE_STATUSES
        mine = conversation.pk is not None and conversation_pk == conversation.pk
        # One's own cancelled registration is free to reuse for oneself (reactivation), never
        # for someone else registered from this phone: "own_cancelled".
        whose = ("own" if active else "own_cancelled") if mine else "other"
        hits = ((f"cpf:{cpf}", cpf in cpfs), (f"email:{email.lower()}", email.lower() in emails))
        for key in (key for key, hit in hits if hit and key not in owners):
            owners[key] = whose
            if not mine:
                others[key] = flow.OtherRegistration(id=pk, masked_email=mask_email(email), active=active)
    return owners, others


def _context(
    event: Event | None,
    own: flow.OwnRegistration | None,
    conversation: ConversationState,
    *,
    understood: flow.Understood,
    keys: set[str],
    profiles: Iterable[Profile] | None = None,
    tickets: bool = False,
) -> flow.FlowContext:
    options = _profile_options(event, profiles)
    now = timezone.now()
    owners, others = _owners(keys, conversation)
    from payments.tickets import ticket_options

    return flow.FlowContext(
        now=now,
        tickets=ticket_options(event, now=now) if tickets else (),
        event_name=str(event) if event is not None else "",
        registration_open=bool(event is not None and event.registration_open),
        profiles=options,
        privacy_notice=event.privacy_notice if event is not None else "",
        privacy_notice_url=event.privacy_notice_url if event is not None else "",
        privacy_notice_version=event.privacy_notice_version if event is not None else "",
        contact=event_contact_line(event),
        intent=understood.intent,
        understood=understood,
        turn=conversation.turns,
        own=own,
        owners=owners,
        others=others,
        whatsapp_phone=_whatsapp_phone(conversation.conversation_id),
        region=places.region_ufs(event.uf) if event is not None and event.uf else (),
    )


def _profile_options(event: Event | None, profiles: Iterable[Profile] | None) -> tuple[flow.ProfileOption, ...]:
    if event is None:
        return ()
    if profiles is None:
        profiles = event.profiles.filter(active=True).order_by("order", "id")
    return tuple(
        flow.ProfileOption(
            id=profile.pk,
            name=profile.name,
            keywords=tuple(k.strip() for k in profile.keywords.split(",") if k.strip()),
        )
        for profile in profiles
    )


def registration_choices(conversation: ConversationState, reply: str) -> flow.Choices | None:
    """The options ``reply`` (the turn's last reply) offers where the
    conversation now stands (consent, a suggestion, the UF, the profile, the
    summary, self-service questions), for channels that render them; None
    when it offers none. Reads no table (the profiles come from the
    knowledge index the turn already loaded) but at the ticket step."""
    state = flow.FlowState.from_data(conversation.registration_step, conversation.data)
    if state.step not in flow.IN_FLOW_STEPS and state.mode is None:
        return None
    index = get_knowledge_index()
    now = timezone.now()
    tickets = ()
    if state.step == RegistrationStep.ASKING_TICKET:
        from payments.tickets import ticket_options

        tickets = ticket_options(index.event, now=now)
    ctx = flow.FlowContext(now=now, profiles=_profile_options(index.event, index.profiles), tickets=tickets)
    return flow.offered_choices(state, ctx, reply)


def _whatsapp_phone(conversation_id: str) -> str:
    """The Brazilian number a conversation writes from, when its id is one (WhatsApp)."""
    digits = conversation_id.split("@", 1)[0]
    if not digits.isdigit() or not digits.startswith("55"):
        return ""
    return find_phone(f"+{digits}") or ""


def _execute(
    conversation: ConversationState,
    old: flow.FlowState,
    state: flow.FlowState,
    replies: list[str],
    effects: list[flow.Effect],
    ctx: flow.FlowContext,
    answer: Answer,
) -> tuple[flow.FlowState, list[str]]:
    conversation_id = conversation.conversation_id
    before: list[str] = []
    for effect in effects:
        if isinstance(effect, flow.AskQuestion):
            before.append(_answer_safely(answer, effect.text))
        elif isinstance(effect, flow.RecordOutcome):
            if effect.kind in (flow.ABANDONED, flow.CONSENT_REFUSED):
                # The engine drops what was typed for this registration from the history.
                conversation.discard_registration_turns = True
            services.registration_event_record(
                kind=effect.kind,
                participant=ctx.own.id if ctx.own is not None else None,
                conversation_id=conversation_id,
                step=str(old.step),
                detail=effect.detail,
                actor=services.PARTICIPANT_ACTOR,
            )
        elif isinstance(effect, flow.RegisterParticipant):
            result = services.participant_register(
                data=effect.data, conversation=conversation if conversation.pk is not None else None
            )
            state, replies = flow.after_register(state, result, ctx)
        elif isinstance(effect, flow.UpdateParticipant):
            participant = Participant.objects.filter(pk=effect.participant_id).first()
            if participant is None:
                result = flow.UpdateResult(outcome="not_found")
            else:
                changes = {key: value for key, value in effect.changes.items() if key != "profile_name"}
                result = services.participant_update(
                    participant=participant, changes=changes, conversation_id=conversation_id
                )
            state, replies = flow.after_update(state, result, ctx)
        elif isinstance(effect, flow.CancelParticipant):
            participant = Participant.objects.filter(pk=effect.participant_id).first()
            if participant is not None:
                services.participant_cancel(
                    participant=participant, conversation_id=conversation_id, reason="pedido pelo participante"
                )
        elif isinstance(effect, flow.ResendEmail):
            participant = Participant.objects.filter(pk=effect.participant_id).first()
            if participant is not None:
                services.participant_resend_confirmation(participant=participant, conversation_id=conversation_id)
    return state, [*before, *replies]


def _answer_safely(answer: Answer, question: str) -> str:
    """The engine's Q&A for a question asked mid-flow; never breaks the registration."""
    try:
        reply = answer(strip_cpfs(question))
    except Exception:  # the Q&A is best effort here: the flow must go on
        logger.exception("Answering a question asked during the registration failed")
        reply = ""
    return reply or _("Boa pergunta! Vou verificar essa informação com a organização.")


def _record_step(conversation: ConversationState, old: flow.FlowState, new: flow.FlowState) -> None:
    if old.step == new.step:
        return
    services.registration_event_record(
        kind=RegistrationEvent.Kind.STEP,
        participant=new.participant_id,
        conversation_id=conversation.conversation_id,
        step=str(new.step),
        detail=f"{old.step} -> {new.step}",
        actor=services.PARTICIPANT_ACTOR,
    )
