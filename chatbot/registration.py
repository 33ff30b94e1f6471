"""The registration's side of one engine turn.

``registration_turn`` is called by ``chatbot.engine`` for every message after
its own greeting/menu/help handling. It decides whether the message belongs
to the registration, gathers what the pure flow needs (event, profiles, the
conversation's own registration, who holds the CPFs and e-mails in the
message), runs :func:`registrations.flow.advance`, executes the effects
through the services, records step changes in the audit trail, and writes the
new step and data back onto the conversation (in memory: the engine saves it
with its version check, in the same transaction as the writes made here).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chatbot.knowledge import get_knowledge_index
from chatbot.models import ConversationState, Event, Profile
from registrations import flow, services
from registrations.models import Participant, RegistrationEvent
from registrations.validators import strip_cpfs

logger = logging.getLogger(__name__)

Answer = Callable[[str], str]


def registration_turn(
    *,
    conversation: ConversationState,
    text: str,
    intent: str | None = None,
    answer: Answer,
) -> list[str] | None:
    """Run the registration for one message; ``None`` when it is not for us.

    ``intent`` is ``None``, ``"register"`` (menu option 1) or
    ``"my_registration"`` (menu option 3 / "minha inscrição"). Returns the
    pt-BR replies, having updated ``conversation.registration_step`` and
    ``conversation.data`` in memory.
    """
    state = flow.FlowState.from_data(conversation.registration_step, conversation.data)
    if not flow.wants_turn(state, text, intent=intent, turn=conversation.turns):
        return None
    # No savepoint of its own inside the engine's transaction: nothing between
    # here and that transaction catches an error, so it would only cost two
    # round trips per turn.
    with transaction.atomic(savepoint=False):
        index = get_knowledge_index()
        event = index.event
        own = _own_registration(conversation)
        ctx = _context(event, own, conversation, intent=intent, keys=flow.lookup_keys(state, text), profiles=index.profiles)
        new_state, replies, effects = flow.advance(state, text, ctx=ctx)
        if not replies and not effects:
            if new_state != state:
                _write(conversation, new_state)  # e.g. a stale self-service question dropped
            return None
        new_state, replies = _execute(conversation, state, new_state, replies, effects, ctx, answer)
        _record_step(conversation, state, new_state)
        _write(conversation, new_state)
    return replies


def _write(conversation: ConversationState, state: flow.FlowState) -> None:
    # Keep whatever other keys the engine stores in data.
    others = {key: value for key, value in (conversation.data or {}).items() if key not in _FLOW_KEYS}
    conversation.registration_step = state.step
    conversation.data = {**others, **state.to_data()}


_FLOW_KEYS = frozenset({"fields", "editing", "pending", "mode", "mode_turn", "participant_id"})


@functools.cache
def _own_select_sql() -> str:
    from chatbot.models import Profile

    # Table names come from the models, the id is a parameter.
    return (
        "SELECT p.id, p.full_name, p.email, p.cpf, p.phone, p.city, p.uf, p.status,"  # noqa: S608
        f" p.confirmation_email_status, pr.name FROM {Participant._meta.db_table} p"
        f" JOIN {Profile._meta.db_table} pr ON pr.id = p.profile_id"
        " WHERE p.conversation_id = %s ORDER BY p.updated_at DESC, p.id DESC LIMIT 10"
    )


def own_registration_row(conversation: ConversationState) -> tuple | None:
    """The conversation's own participant as ``(id, full_name, email, cpf,
    phone, city, uf, status, email_status, profile_name)``, or None.

    Usually one row, rarely a few (cancelled, then registered with another
    CPF): the active one wins, else the most recent. One prepared statement
    (plain SQL, the same on PostgreSQL and SQLite): it runs on most turns
    (registration steps and questions), where the ORM would compile the
    query and build two model instances each time.
    """
    if conversation.pk is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_own_select_sql(), [conversation.pk])
        rows = cursor.fetchall()
    return next((row for row in rows if row[7] == Participant.Status.CONFIRMED), rows[0] if rows else None)


def _own_registration(conversation: ConversationState) -> flow.OwnRegistration | None:
    row = own_registration_row(conversation)
    if row is None:
        return None
    pk, full_name, email, cpf, phone, city, uf, status, email_status, profile_name = row
    return flow.OwnRegistration(
        id=pk,
        full_name=full_name,
        email=email,
        cpf=cpf,
        phone=phone,
        city=city,
        uf=uf,
        profile_name=profile_name,
        active=status == Participant.Status.CONFIRMED,
        email_status=email_status,
    )


def contact_text(event: Event | None) -> str:
    if event is None:
        return ""
    parts = []
    if event.contact_whatsapp:
        parts.append(_("WhatsApp %(phone)s") % {"phone": event.contact_whatsapp})
    if event.contact_email:
        parts.append(_("e-mail %(email)s") % {"email": event.contact_email})
    return _(" ou ").join(parts)


def _owners(keys: set[str], conversation: ConversationState) -> dict[str, str]:
    """Who holds each CPF / e-mail among the active registrations: "own" or "other"."""
    cpfs = {key[4:] for key in keys if key.startswith("cpf:")}
    emails = {key[6:] for key in keys if key.startswith("email:")}
    if not cpfs and not emails:
        return {}
    # Plain SQL (the same on PostgreSQL and SQLite; LOWER(email) is the
    # unique index's expression): it runs on every step once an e-mail or
    # CPF is known, where the ORM would compile it each time.
    conditions, params = [], [Participant.Status.CONFIRMED]
    if cpfs:
        conditions.append(f"cpf IN ({', '.join(['%s'] * len(cpfs))})")
        params += sorted(cpfs)
    if emails:
        conditions.append(f"LOWER(email) IN ({', '.join(['%s'] * len(emails))})")
        params += sorted(emails)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT cpf, email, conversation_id FROM {Participant._meta.db_table}"  # noqa: S608 - placeholders only
            f" WHERE status = %s AND ({' OR '.join(conditions)})",
            params,
        )
        rows = cursor.fetchall()
    owners: dict[str, str] = {}
    for cpf, email, conversation_pk in rows:
        whose = "own" if conversation.pk is not None and conversation_pk == conversation.pk else "other"
        if cpf in cpfs:
            owners[f"cpf:{cpf}"] = whose
        if email.lower() in emails:
            owners[f"email:{email.lower()}"] = whose
    return owners


def _context(
    event: Event | None,
    own: flow.OwnRegistration | None,
    conversation: ConversationState,
    *,
    intent: str | None,
    keys: set[str],
    profiles: Iterable[Profile] | None = None,
) -> flow.FlowContext:
    options: tuple[flow.ProfileOption, ...] = ()
    if event is not None:
        if profiles is None:
            profiles = event.profiles.filter(active=True).order_by("order", "id")
        options = tuple(
            flow.ProfileOption(
                id=profile.pk,
                name=profile.name,
                keywords=tuple(k.strip() for k in profile.keywords.split(",") if k.strip()),
            )
            for profile in profiles
        )
    return flow.FlowContext(
        now=timezone.now(),
        event_name=str(event) if event is not None else "",
        registration_open=bool(event is not None and event.registration_open),
        profiles=options,
        privacy_notice=event.privacy_notice if event is not None else "",
        privacy_notice_url=event.privacy_notice_url if event is not None else "",
        privacy_notice_version=event.privacy_notice_version if event is not None else "",
        contact=contact_text(event),
        intent=intent,
        turn=conversation.turns,
        own=own,
        owners=_owners(keys, conversation),
    )


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
