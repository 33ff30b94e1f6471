"""One conversation turn (DESIGN.md, "One engine turn").

load state (fresh history after SESSION_TTL_SECONDS idle) -> global commands
-> registration flow when active or intended -> otherwise Q&A -> save state
with a version check, append history (pruned to SESSION_MAX_STORED_TURNS).

Every entry point (/chat, both shapes of /whatsapp, the pipeline, the terminal
chat) runs this same function.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chatbot.knowledge import knowledge_snapshot
from chatbot.models import ConversationState, Event, RegistrationStep
from congress import sql
from congress.errors import CongressError
from congress.locks import conversation_lock

logger = logging.getLogger(__name__)

IN_FLOW_STEPS = frozenset(
    {
        RegistrationStep.ASKING_CONSENT,
        RegistrationStep.ASKING_NAME,
        RegistrationStep.ASKING_EMAIL,
        RegistrationStep.ASKING_CPF,
        RegistrationStep.ASKING_PHONE,
        RegistrationStep.ASKING_CITY,
        RegistrationStep.ASKING_STATE,
        RegistrationStep.ASKING_PROFILE,
        RegistrationStep.CONFIRMING,
    }
)


class StaleConversation(CongressError):
    """The conversation changed under us (version check failed): retry the turn."""

    transient = True


@dataclass(frozen=True)
class TurnResult:
    conversation_id: str
    replies: list[str] = field(default_factory=list)
    step: str = RegistrationStep.IDLE
    turns: int = 0

    @property
    def reply(self) -> str:
        return "\n\n".join(self.replies)


def fold(text: str) -> str:
    from registrations.validators import fold as _fold

    return _fold(text)


_GREETINGS = re.compile(
    r"^(oi+|ola|ol[aá]|opa|e ai|eai|hey|hello|hi|bom dia|boa tarde|boa noite|inicio|comecar|start)\b[\s!.,?]*"
    r"(tudo bem|tudo bom|td bem)?[\s!.,?]*$"
)
_MENU = re.compile(r"^(menu|opcoes|voltar|inicio)[\s!.?]*$")
_HELP = re.compile(r"^(ajuda|help|socorro|como funciona)[\s!.?]*$")
_CANCEL = re.compile(r"^(cancelar|cancela|sair|parar|pare)[\s!.?]*$")
_HUMAN = re.compile(r"(falar com (a |o )?(organizacao|organizador|organizadores|atendente|humano|alguem|pessoa))|^(atendente|humano)$")
_MY_DATA = re.compile(r"^(meus dados|quais (sao )?meus dados|ver meus dados|dados pessoais)[\s!.?]*$")
_ERASE_DATA = re.compile(r"^(apagar|excluir|deletar|remover|esquecer) (todos )?(os )?meus dados[\s!.?]*$")
_YES = re.compile(r"^(sim|s|confirmo|pode apagar|apagar)[\s!.]*$")
_MY_REGISTRATION = re.compile(r"^(minha inscricao|meu cadastro|minha inscrição)[\s!.?]*$")


def menu_text(event: Event | None) -> str:
    return _(
        "Como posso ajudar? Responda com o número:\n"
        "1️⃣ Fazer minha inscrição\n"
        "2️⃣ Informações sobre o evento\n"
        "3️⃣ Minha inscrição\n"
        "4️⃣ Falar com a organização\n\n"
        "Ou escreva sua pergunta (ex.: *onde vai ser o evento?*)."
    )


def welcome_text(event: Event | None, push_name: str = "") -> str:
    name = push_name.split()[0] if push_name.strip() else ""
    hello = _("Olá, %(name)s! 👋") % {"name": name} if name else _("Olá! 👋")
    if event is None:
        intro = _("Sou o assistente virtual do congresso.")
    else:
        intro = _("Sou o assistente virtual do *%(event)s*.") % {"event": str(event)}
    return f"{hello} {intro}\n\n{menu_text(event)}"


def contact_text(event: Event | None) -> str:
    if event is None or not (event.contact_email or event.contact_whatsapp):
        return _("Vou avisar a organização. Em breve alguém entra em contato por aqui.")
    parts = []
    if event.contact_whatsapp:
        parts.append(_("WhatsApp: %(phone)s") % {"phone": event.contact_whatsapp})
    if event.contact_email:
        parts.append(_("E-mail: %(email)s") % {"email": event.contact_email})
    return _("Para falar com a organização:\n%(contacts)s") % {"contacts": "\n".join(parts)}


def info_text(event: Event | None) -> str:
    if event is None:
        return _("As informações do evento ainda não foram publicadas. Tente novamente mais tarde.")
    lines = [f"*{event}*"]
    if event.theme:
        lines.append(event.theme)
    lines.append(
        _("📅 %(start)s a %(end)s") % {"start": event.starts_on.strftime("%d/%m/%Y"), "end": event.ends_on.strftime("%d/%m/%Y")}
        + (f" · {event.hours}" if event.hours else "")
    )
    lines.append(_("📍 %(venue)s — %(address)s, %(city)s/%(uf)s") % {
        "venue": event.venue, "address": event.address, "city": event.city, "uf": event.uf
    })
    if event.website:
        lines.append(f"🌐 {event.website}")
    lines.append("")
    lines.append(_("Pergunte o que quiser: programação, preços, local, estacionamento, certificado..."))
    return "\n".join(lines)


def active_event() -> Event | None:
    """The active event: the knowledge index's copy (read-only), which every
    edit of the event invalidates, so a turn costs a cache read, not a query."""
    from chatbot.knowledge import get_active_event

    return get_active_event()


@functools.cache
def _state_select_sql() -> str:
    # Table and column names come from the model, the id is a parameter.
    return (
        f"SELECT {sql.columns(ConversationState)} FROM {ConversationState._meta.db_table}"  # noqa: S608
        " WHERE conversation_id = %s"
    )


def _state_read(conversation_id: str) -> ConversationState | None:
    """The conversation's row, or None. On PostgreSQL a prepared-once raw
    SELECT (the ORM compiles the same query on every turn: ~8 % of a
    pipeline worker's CPU), with the fields' own conversions (JSON)."""
    if connection.vendor != "postgresql":
        return ConversationState.objects.filter(conversation_id=conversation_id).first()
    with connection.cursor() as cursor:
        cursor.execute(_state_select_sql(), [conversation_id])
        row = cursor.fetchone()
    return None if row is None else sql.from_row(ConversationState, row)


def _load_state(conversation_id: str, push_name: str) -> ConversationState:
    # A plain read first: the conversation exists on every turn but the first,
    # and get_or_create() would wrap even that read in a savepoint.
    state = _state_read(conversation_id)
    if state is None:
        # INSERT ... ON CONFLICT DO NOTHING: no savepoint, and a row created
        # concurrently by another entry point is simply read back.
        ConversationState.objects.bulk_create([ConversationState(conversation_id=conversation_id)], ignore_conflicts=True)
        state = ConversationState.objects.get(conversation_id=conversation_id)
    if push_name and state.push_name != push_name[:120]:
        state.push_name = push_name[:120]
    return state


def _expire_if_idle(state: ConversationState, now) -> None:
    """Start fresh after SESSION_TTL_SECONDS idle. A completed registration is a
    Participant row and is never touched; only an unfinished flow is dropped."""
    if state.turns == 0 and not state.history:
        return
    if now - state.last_activity_at < timedelta(seconds=settings.SESSION_TTL_SECONDS):
        return
    logger.info("Conversation %s idle past its TTL: starting fresh", state.pk)
    state.history = []
    if state.registration_step in IN_FLOW_STEPS:
        state.registration_step = RegistrationStep.IDLE
        state.data = {k: v for k, v in (state.data or {}).items() if k == "participant_id"}


def participant_status(state: ConversationState) -> str:
    """The participant's own status, for the LLM. Never holds a CPF or contact data."""
    from registrations.conversation import own_registration_row
    from registrations.models import Participant

    row = own_registration_row(state)
    if row is not None:
        return _("Participante inscrito (situação: %(status)s; perfil: %(profile)s).") % {
            "status": Participant.Status(row[7]).label,
            "profile": row[9],
        }
    if state.registration_step in IN_FLOW_STEPS:
        return _("Inscrição em andamento (etapa: %(step)s).") % {"step": state.get_registration_step_display()}
    return _("Ainda não inscrito.")


def _answer_fn(state: ConversationState) -> Callable[[str], str]:
    from chatbot.answer import answer_question

    def answer(question: str) -> str:
        return answer_question(
            question=question,
            conversation_id=state.conversation_id,
            history=state.history[-6:],
            participant_status=participant_status(state),
        ).text

    return answer


def _dispatch(state: ConversationState, text: str, event: Event | None) -> list[str]:
    from registrations.conversation import registration_turn

    folded = fold(text)
    in_flow = state.registration_step in IN_FLOW_STEPS
    answer = _answer_fn(state)

    if not folded:
        return [_("Não entendi sua mensagem. 🤔"), menu_text(event)]
    if _MENU.match(folded) or _HELP.match(folded):
        replies = [menu_text(event)]
        if in_flow:
            replies.append(_("Sua inscrição está em andamento: responda à última pergunta para continuar, ou diga *cancelar*."))
        return replies
    if _HUMAN.search(folded):
        return [contact_text(event)]
    privacy = _privacy_command(state, folded)
    if privacy is not None:
        return privacy

    intent: str | None = None
    if not in_flow:
        if _GREETINGS.match(folded):
            return [welcome_text(event, state.push_name)]
        option = folded.strip(" .!)º°")
        if option == "1":
            intent = "register"
        elif option == "2":
            return [info_text(event)]
        elif option == "3" or _MY_REGISTRATION.match(folded):
            intent = "my_registration"
        elif option == "4":
            return [contact_text(event)]

    replies = registration_turn(conversation=state, text=text, intent=intent, answer=answer)
    if replies is not None:
        return replies
    if _CANCEL.match(folded):
        return [_("Não há nada em andamento para cancelar."), menu_text(event)]
    return [answer(text)]


def _privacy_command(state: ConversationState, folded: str) -> list[str] | None:
    """LGPD Art. 18 from the chat: "meus dados" and "apagar meus dados"."""
    from registrations.privacy import conversation_anonymize, personal_data_report

    data = state.data if isinstance(state.data, dict) else {}
    if data.get("erase_pending"):
        data.pop("erase_pending")
        if _YES.match(folded):
            conversation_anonymize(conversation_id=state.conversation_id, actor="participant")
            # The row now belongs to an anonymous id; keep this turn's record empty.
            state.registration_step = RegistrationStep.IDLE
            state.data = {}
            state.history = []
            state.push_name = ""
            return [_("Pronto: seus dados pessoais foram apagados. Se quiser, pode começar de novo a qualquer momento.")]
        state.data = data
        return [_("Certo, não apaguei nada.")]
    if _MY_DATA.match(folded):
        return [personal_data_report(conversation=state)]
    if _ERASE_DATA.match(folded):
        state.data = {**data, "erase_pending": True}
        return [
            _(
                "Você pediu para apagar seus dados. Isso anonimiza sua inscrição (que será cancelada), "
                "esta conversa e suas mensagens, e não pode ser desfeito.\n\nResponda *SIM* para confirmar."
            )
        ]
    return None


def _save(state: ConversationState, text: str, replies: list[str], now) -> None:
    history = list(state.history or [])
    stamp = now.isoformat()
    history.append({"role": "user", "text": text, "at": stamp})
    history.append({"role": "assistant", "text": "\n\n".join(replies), "at": stamp})
    # One turn = the participant's message and our reply.
    history = history[-2 * settings.SESSION_MAX_STORED_TURNS :]
    # The compare-and-swap on ``version``, as one prepared statement: the
    # ORM's update() compiles it anew on every turn (~8 % of a worker's CPU).
    # Values go through each field's own preparation (JSON), so it is the
    # same statement on PostgreSQL and SQLite.
    meta = ConversationState._meta
    prep = {name: meta.get_field(name).get_db_prep_save(value, connection) for name, value in (
        ("registration_step", state.registration_step), ("data", state.data), ("history", history),
        ("push_name", state.push_name), ("last_activity_at", now),
    )}
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {meta.db_table} SET registration_step = %s, data = %s, history = %s,"  # noqa: S608
            " turns = turns + 1, version = version + 1, push_name = %s, last_activity_at = %s"
            " WHERE id = %s AND version = %s",
            [prep["registration_step"], prep["data"], prep["history"], prep["push_name"], prep["last_activity_at"],
             state.pk, state.version],
        )
        updated = cursor.rowcount
    if updated != 1:
        raise StaleConversation(f"conversation {state.pk} changed during the turn")
    state.history = history
    state.turns += 1
    state.version += 1
    state.last_activity_at = now


def _turn(conversation_id: str, text: str, push_name: str, *, savepoint: bool = True) -> TurnResult:
    now = timezone.now()
    text = (text or "").strip()[: settings.MAX_MESSAGE_CHARS]
    # Inside the caller's transaction (the pipeline) a savepoint would only
    # cost two round trips: any error here rolls back the caller's block too.
    with transaction.atomic(savepoint=savepoint), knowledge_snapshot():
        state = _load_state(conversation_id, push_name)
        _expire_if_idle(state, now)
        event = active_event()
        replies = [r for r in _dispatch(state, text, event) if r]
        _save(state, text, replies, now)
    return TurnResult(conversation_id=conversation_id, replies=replies, step=state.registration_step, turns=state.turns)


def conversation_turn(*, conversation_id: str, text: str, push_name: str = "", lock: bool = True) -> TurnResult:
    """Run one turn of ``conversation_id`` and return the bot's replies.

    With ``lock=False`` the caller already holds the conversation's lock and
    may wrap this in its own ``transaction.atomic()`` so the state save and
    its own writes commit together. Raises ``StaleConversation`` when the
    state changed during the turn (a stale lock holder), ``LockTimeout`` when
    the conversation stays busy past the lock's wait.
    """
    if not lock:
        return _turn(conversation_id, text, push_name, savepoint=False)
    with conversation_lock(conversation_id):
        return _turn(conversation_id, text, push_name)
