"""One conversation turn (DESIGN.md, "One engine turn").

load state (fresh history after SESSION_TTL_SECONDS idle) -> global commands
-> registration flow when active or intended -> otherwise Q&A -> save state
with a version check, append history (pruned to SESSION_MAX_STORED_TURNS).

Every entry point (/chat, both shapes of /whatsapp, the pipeline, the terminal
chat) runs this same function.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chatbot.knowledge import event_contact_line, knowledge_snapshot
from chatbot.models import ConversationState, Event
from chatbot.router import MENU_OPTIONS_NEW, MENU_OPTIONS_REGISTERED, Routed, route
from congress import sql
from congress.errors import CongressError
from congress.locks import conversation_lock
from registrations.flow.choices import NO, YES, buttons, choice_list
from registrations.flow.types import Choices
from registrations.reading.answers import read_yes_no
from registrations.reading.numbers import read_choice
from registrations.steps import IN_FLOW_STEPS, RegistrationStep
from registrations.validators import find_cpf, find_email, find_phone, mask_pii

logger = logging.getLogger(__name__)

class StaleConversation(CongressError):
    """The conversation changed under us (version check failed): retry the turn."""

    transient = True


def is_standalone(reply: str) -> bool:
    """A Pix BR Code ("copia e cola"): sent alone so it can be copied in one go."""
    return reply.startswith("000201") and "\n" not in reply and "br.gov.bcb.pix" in reply.lower()


@dataclass(frozen=True)
class Attachment:
    """A file the participant sent in the chat (a photo or a PDF): a Pix
    receipt or a category proof. ``text`` of the turn is its caption."""

    content: bytes
    mimetype: str
    filename: str = ""


@dataclass(frozen=True)
class TurnResult:
    conversation_id: str
    replies: list[str] = field(default_factory=list)
    step: str = RegistrationStep.IDLE
    turns: int = 0
    # The options the last reply offers (menu, yes/no, profile, UF, field to
    # correct), for channels that render buttons or a list; the text above
    # already holds them numbered, so other channels ignore this.
    choices: Choices | None = None
    # A person holds the conversation (an open handoff): the bot stays silent.
    handoff: bool = False

    @property
    def reply(self) -> str:
        """Everything in one text (``/chat``, the original gateway's synchronous shape)."""
        return "\n\n".join(self.replies)

    @property
    def message(self) -> str:
        """The reply for a channel that can send several messages: without the ``standalone`` ones."""
        return "\n\n".join(reply for reply in self.replies if not is_standalone(reply))

    @property
    def standalone(self) -> list[str]:
        """Replies that go out as messages of their own, after ``message``: a Pix "copia e cola"
        (on WhatsApp a long press copies a whole message, so it must be alone in one)."""
        return [reply for reply in self.replies if is_standalone(reply)]


    @property
    def interactive(self) -> dict | None:
        """``choices`` as stored on the reply (``OutboundMessage.interactive``)."""
        return self.choices.to_data() if self.choices is not None else None


def menu_text(event: Event | None, *, registered: bool = False) -> str:
    if registered:
        return _(
            "Como posso ajudar? Responda com o número:\n"
            "1️⃣ Inscrever outra pessoa\n"
            "2️⃣ Informações sobre o evento\n"
            "3️⃣ Minha inscrição\n"
            "4️⃣ Falar com a organização\n\n"
            "Ou escreva sua pergunta (ex.: *onde vai ser o evento?*)."
        )
    return _(
        "Como posso ajudar? Responda com o número:\n"
        "1️⃣ Fazer minha inscrição\n"
        "2️⃣ Informações sobre o evento\n"
        "3️⃣ Minha inscrição\n"
        "4️⃣ Falar com a organização\n\n"
        "Ou escreva sua pergunta (ex.: *onde vai ser o evento?*)."
    )


def menu_choices(*, registered: bool = False) -> Choices | None:
    """The main menu's options; a tap answers the option's number, as typed."""
    first = _("Inscrever outra pessoa") if registered else _("Fazer minha inscrição")
    return choice_list(
        [
            ("1", first, ""),
            ("2", _("Informações do evento"), ""),
            ("3", _("Minha inscrição"), ""),
            ("4", _("Falar com a organização"), ""),
        ],
        button=_("Ver opções"),
    )


def welcome_text(event: Event | None, push_name: str = "", *, registered: bool = False) -> str:
    name = push_name.split()[0] if push_name.strip() else ""
    hello = _("Olá, %(name)s! 👋") % {"name": name} if name else _("Olá! 👋")
    if event is None:
        intro = _("Sou o assistente virtual do congresso.")
    else:
        intro = _("Sou o assistente virtual do *%(event)s*.") % {"event": str(event)}
    return f"{hello} {intro}\n\n{menu_text(event, registered=registered)}"


_FOREIGN_STEPS = {
    "en": {
        "asking_consent": "your consent to use your data for the registration (answer *sim* = yes or *não* = no)",
        "asking_name": "your full name",
        "asking_email": "your e-mail",
        "asking_cpf": "your CPF (the Brazilian taxpayer number)",
        "asking_phone": "your phone number with area code (DDD)",
        "asking_city": "the city where you live",
        "asking_state": "your state (UF)",
        "asking_profile": "your profile (answer with the number)",
        "confirming": "to confirm the summary (answer *sim* = yes)",
    },
    "es": {
        "asking_consent": "tu consentimiento para usar tus datos (responde *sim* = sí o *não* = no)",
        "asking_name": "tu nombre completo",
        "asking_email": "tu e-mail",
        "asking_cpf": "tu CPF (el número de contribuyente brasileño)",
        "asking_phone": "tu teléfono con código de área (DDD)",
        "asking_city": "la ciudad donde vives",
        "asking_state": "tu estado (UF)",
        "asking_profile": "tu perfil (responde con el número)",
        "confirming": "confirmar el resumen (responde *sim* = sí)",
    },
}
_FOREIGN_TOPICS = (
    ("when", re.compile(r"\b(when|date|dates|cuando|fecha|fechas|dia|dias)\b")),
    ("where", re.compile(r"\b(where|location|address|venue|donde|lugar|direccion|ubicacion)\b")),
    ("price", re.compile(r"\b(price|prices|cost|costs|ticket|tickets|fee|how much|cuanto|cuesta|precio|precios|valor|entrada)\b")),
)


def _foreign_facts(language: str, event: Event | None, question: str) -> list[str]:
    """The event's own facts (in Portuguese, as the organizers wrote them) for the topics asked."""
    if event is None:
        return []
    facts = []
    for topic, pattern in _FOREIGN_TOPICS:
        if not pattern.search(question):
            continue
        if topic == "when":
            label = "Dates" if language == "en" else "Fechas"
            facts.append(f"📅 {label}: {event.starts_on:%d/%m/%Y} – {event.ends_on:%d/%m/%Y}" + (f" ({event.hours})" if event.hours else ""))
        elif topic == "where":
            label = "Venue" if language == "en" else "Lugar"
            facts.append(f"📍 {label}: {event.venue} — {event.address}, {event.city}/{event.uf}")
        elif topic == "price":
            from chatbot.knowledge import get_knowledge_index

            prices = next((doc.text for doc in get_knowledge_index().docs if doc.id == "event:tickets"), "")
            if prices:
                label = "Prices (in Portuguese)" if language == "en" else "Precios (en portugués)"
                facts.append(f"💰 {label}:\n{prices[:600]}")
    return facts


def foreign_text(language: str, event: Event | None, *, step: str = "", question: str = "") -> str:
    """A short answer for English and Spanish speakers: how to register and get help,
    the facts they asked for (dates, venue, prices), and, mid-registration, what
    the pending question asks.

    Written directly in each language (not translated through gettext: the
    reply is for someone who does not read Portuguese, whatever the
    project's language).
    """
    facts = _foreign_facts(language, event, question)
    pending = _FOREIGN_STEPS.get(language, _FOREIGN_STEPS["en"]).get(step)
    if pending:
        if language == "es":
            lead = f"Estamos en medio de tu inscripción: ahora te pido {pending}. Para parar, escribe *cancelar*."
        else:
            lead = f"We are in the middle of your registration: I'm now asking for {pending}. To stop, write *cancelar*."
        return "\n\n".join([lead, *facts])
    if facts:
        intro = "Here is what you asked:" if language == "en" else "Esto es lo que preguntaste:"
        return "\n\n".join([intro, *facts, _foreign_intro(language, event)])
    return _foreign_intro(language, event)


def _foreign_intro(language: str, event: Event | None) -> str:
    name = str(event) if event is not None else "the congress"
    contact = event_contact_line(event)
    if language == "es":
        text = (
            f"¡Hola! 👋 Soy el asistente del *{name}*. Por ahora atiendo en portugués. Para inscribirte, escribe "
            "*quero me inscrever* y te guío paso a paso (nombre, e-mail, CPF, teléfono, ciudad). Si no tienes CPF "
            "(participantes extranjeros), la organización hace tu inscripción con el pasaporte"
        )
        return text + (f": {contact}." if contact else ". Escribe *falar com a organização*.")
    text = (
        f"Hi! 👋 I'm the assistant of *{name}*. For now I answer in Portuguese. To register, write *quero me "
        "inscrever* and I'll guide you step by step (name, e-mail, CPF, phone, city). Without a Brazilian CPF "
        "(foreign participants), the organizers register you with your passport"
    )
    return text + (f": {contact}." if contact else ". Write *falar com a organização*.")


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
    from chatbot.registration import own_registration

    row = own_registration(state)
    if row is not None:
        return _("Participante inscrito (situação: %(status)s; perfil: %(profile)s).") % {
            "status": row.status_label,
            "profile": row.profile_name,
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


def _registered(state: ConversationState) -> bool:
    data = state.data if isinstance(state.data, dict) else {}
    return data.get("participant_id") is not None


def _mode_pending(state: ConversationState) -> bool:
    """The last reply asked "qual dado você quer corrigir?": a number here is a field, not a menu option."""
    data = state.data if isinstance(state.data, dict) else {}
    return data.get("mode") == "choose_field" and data.get("mode_turn") == state.turns - 1


def _menu_shown(state: ConversationState, text: str) -> bool:
    """Whether a number answers our menu: the last reply showed it, or the message says "opção N".

    A stray "1" typed long after the menu (a late answer to another list)
    must not start a registration (for another person, once registered).
    """
    if re.search(r"\b(opcao|opção|menu)\b", text.lower()):
        return True
    last = next((turn for turn in reversed(state.history or []) if isinstance(turn, dict) and turn.get("role") == "assistant"), None)
    return last is None or "1️⃣" in str(last.get("text", ""))


def _small_talk(routed: Routed, event: Event | None, registered: bool) -> str | None:
    kind = routed.small_talk
    if kind == "thanks":
        return _("De nada! 😊 Se precisar de mais alguma coisa, é só chamar.")
    if kind == "bye":
        return _("Até mais! 👋 Se precisar, é só chamar por aqui.")
    if kind == "how_are_you":
        return _("Tudo ótimo, obrigado por perguntar! 😊") + "\n\n" + menu_text(event, registered=registered)
    if kind == "laugh":
        return _("😄 Posso ajudar com alguma informação sobre o evento?")
    if kind == "ack" or (routed.command is None and not routed.question and read_yes_no(routed.text) is not None):
        return _("👍 Se precisar de algo, diga *menu* para ver as opções ou escreva sua pergunta.")
    return None


def _dispatch(state: ConversationState, text: str, event: Event | None) -> list[str]:
    from chatbot.registration import registration_turn

    in_flow = state.registration_step in IN_FLOW_STEPS
    registered = _registered(state)
    routed = route(text, in_flow=in_flow)
    answer = _answer_fn(state)

    if routed.empty:
        return [_("Não entendi sua mensagem. 🤔"), menu_text(event, registered=registered)]
    privacy = _privacy_command(state, routed, answer)
    if privacy is not None:
        return privacy
    carries_data = in_flow and bool(find_cpf(text) or find_email(text) or find_phone(text))
    if routed.language != "pt" and not carries_data:  # a CPF or an e-mail reads the same in any language
        return [foreign_text(routed.language, event, step=state.registration_step, question=routed.words)]
    if routed.command in ("menu", "help"):
        replies = [menu_text(event, registered=registered)]
        if in_flow:
            replies.append(_("Sua inscrição está em andamento: responda à última pergunta para continuar, ou diga *cancelar*."))
        return replies
    if routed.command in ("human", "complaint"):
        return _handoff(state, event, complaint=routed.command == "complaint", in_flow=in_flow)
    if not in_flow and (registered or (state.data or {}).get("others")):
        # "já paguei", "manda o pix", "sim" to an offered seat: payments reads them before the menu does.
        from payments.chat import payment_turn

        paid = payment_turn(state, text)
        if paid is not None:
            return paid

    intent: str | None = None
    if not in_flow:
        if routed.small_talk == "greeting":
            return [welcome_text(event, state.push_name, registered=registered)]
        choice = None if _mode_pending(state) else read_choice(text, 4)
        if choice == 1 and not _menu_shown(state, text):
            choice = None  # option 1 starts a registration: only as an answer to the menu just shown
        if choice is not None:
            option = (MENU_OPTIONS_REGISTERED if registered else MENU_OPTIONS_NEW)[choice - 1]
            if option == "info":
                return [info_text(event)]
            if option == "human":
                return _handoff(state, event, in_flow=in_flow)
            intent = option

    replies = registration_turn(conversation=state, text=text, intent=intent, answer=answer, routed=routed)
    if replies is not None:
        return replies
    if routed.command == "cancel":
        return [_("Não há nada em andamento para cancelar."), menu_text(event, registered=registered)]
    small_talk = None if routed.question else _small_talk(routed, event, registered)
    if small_talk is not None:
        return [small_talk]
    form = _form_answer(routed) if routed.question else None
    if form is not None:
        return [form]
    why = _WHY_DATA_RE.search(routed.words) if routed.question else None
    if why is not None:
        # "pq precisa do cpf?": the registration's own reason, not a guess from the FAQ.
        from registrations.flow import why_we_ask

        field = {"cpf": "cpf", "telefone": "phone", "celular": "phone", "nome": "full_name", "cidade": "city"}.get(
            why.group("what") or why.group("what2"), "email"
        )
        return [why_we_ask(field)]
    return [answer(text)]


def _handoff(state: ConversationState, event: Event | None, *, complaint: bool = False, in_flow: bool = False) -> list[str]:
    """The participant asked for a person (or complained): a person takes the conversation over."""
    from inbox.models import Handoff
    from inbox.services import handoff_request

    reason = Handoff.Reason.COMPLAINT if complaint else Handoff.Reason.REQUEST
    return handoff_request(state, reason=reason, event=event, now=timezone.now(), in_flow=in_flow)


_WHY_DATA_RE = re.compile(
    r"\b(pra que|para que|por que|porque|pq|obrigatori\w*)\b.*\b(?P<what>cpf|e ?mail|email|telefone|celular|nome|cidade)\b"
    r"|\b(?P<what2>cpf|e ?mail|email|telefone|celular)\b.*\bobrigatori\w*"
)
_WHAT_IS_CPF_RE = re.compile(r"\b(o que|oque|que) (e|eh|significa)( o| um)? cpf\b|\bcpf (e|significa) o que\b")
_WHICH_PROFILE_RE = re.compile(r"\bperfi[ls]\b|\bperfil\w*")


def _form_answer(routed: Routed) -> str | None:
    """Questions about the registration form itself ("o que é CPF?", "qual perfil eu escolho?")."""
    if _WHAT_IS_CPF_RE.search(routed.words):
        return _(
            "CPF é o Cadastro de Pessoa Física: o número de 11 dígitos do documento de identificação fiscal "
            "brasileiro (aparece no RG novo e na CNH). Quem não tem CPF, como participantes estrangeiros, faz a "
            "inscrição com a organização."
        )
    if _WHICH_PROFILE_RE.search(routed.words) and re.search(r"\b(qual|quais|que|o que|significa|escolho|coloco)\b", routed.words):
        from chatbot.knowledge import get_knowledge_index

        names = [profile.name for profile in get_knowledge_index().profiles]
        if names:
            return _(
                "O perfil diz como você participa do evento: %(profiles)s. Escolha o que mais combina com você; "
                "na dúvida, *Outro*."
            ) % {"profiles": ", ".join(names)}
    return None


def _privacy_command(state: ConversationState, routed: Routed, answer: Callable[[str], str]) -> list[str] | None:
    """LGPD Art. 18 from the chat: "meus dados" and "apagar meus dados"."""
    from registrations.privacy import conversation_anonymize, personal_data_report

    data = state.data if isinstance(state.data, dict) else {}
    if data.get("erase_pending"):
        if routed.question and read_yes_no(routed.text) is None:
            # A question while the erasure waits for its answer: answer it, keep waiting.
            if re.search(r"\b(apag\w*|exclu\w*|dados|acontece|desfazer|volta\w*)\b", routed.words):
                reply = _erase_explanation(state)
            else:
                reply = answer(routed.text)
            return [reply, _erase_reminder()]
        data.pop("erase_pending")
        if read_yes_no(routed.text) == "yes" or routed.words in ("pode apagar", "apagar", "apaga", "confirmo"):
            conversation_anonymize(conversation_id=state.conversation_id, actor="participant", keep_relatives=True)
            # The row now belongs to an anonymous id; keep this turn's record empty.
            state.registration_step = RegistrationStep.IDLE
            state.data = {}
            state.history = []
            state.push_name = ""
            return [_("Pronto: seus dados pessoais foram apagados. Se quiser, pode começar de novo a qualquer momento.")]
        state.data = data
        return [_("Certo, não apaguei nada.")]
    if routed.command == "my_data":
        return [personal_data_report(conversation=state)]
    if routed.command == "erase_data":
        state.data = {**data, "erase_pending": True}
        return [_erase_explanation(state) + "\n\n" + _erase_question()]
    return None


def _erase_question() -> str:
    return _("Responda *SIM* para confirmar.")


def _erase_reminder() -> str:
    return _("Sobre apagar seus dados: responda *sim* para confirmar ou *não* para manter.")


def _erase_explanation(state: ConversationState) -> str:
    from registrations.privacy import relative_ids

    text = _(
        "Você pediu para apagar seus dados. Isso anonimiza sua inscrição (que será cancelada), "
        "esta conversa e suas mensagens, e não pode ser desfeito."
    )
    if relative_ids(state):
        text += " " + _(
            "As inscrições de outras pessoas feitas por aqui continuam valendo; para apagá-las, cada pessoa pode "
            "pedir à organização."
        )
    return text


def _choices(state: ConversationState, replies: list[str], event: Event | None) -> Choices | None:
    """What the turn's LAST reply offers to tap: the main menu, the erasure's
    yes/no, or the registration's question (``registration_choices``)."""
    from chatbot.registration import registration_choices

    if not replies:
        return None
    last = replies[-1]
    for registered in (False, True):
        if last.endswith(menu_text(event, registered=registered)):
            return menu_choices(registered=registered)
    data = state.data if isinstance(state.data, dict) else {}
    if data.get("erase_pending") and last.endswith((_erase_question(), _erase_reminder())):
        return buttons([(YES, _("Sim, apagar")), (NO, _("Não, manter"))])
    return registration_choices(state, last)


def _save(state: ConversationState, text: str, replies: list[str], now, *, in_flow: bool = False) -> None:
    history = list(state.history or [])
    stamp = now.isoformat()
    if getattr(state, "discard_registration_turns", False):
        # An abandoned registration: what was typed for it is not kept either.
        history = [_discarded(turn) for turn in history]
        text = _("[mensagem descartada]")
        in_flow = False
    mark = {"registration": True} if in_flow else {}
    history.append({"role": "user", "text": text, "at": stamp, **mark})
    if replies:  # nothing while a person holds the conversation
        history.append({"role": "assistant", "text": "\n\n".join(replies), "at": stamp, **mark})
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


def _discarded(turn: dict) -> dict:
    if not isinstance(turn, dict):
        return turn
    if turn.get("registration"):
        return {"role": turn.get("role"), "text": _("[mensagem descartada]"), "at": turn.get("at")}
    if turn.get("role") == "assistant":
        return {**turn, "text": mask_pii(str(turn.get("text", "")))}
    return turn


_INVISIBLE_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_MOJIBAKE_RE = re.compile("Ã[\u0080-\u00bf]|Â[\u00a0-\u00bf]")


def clean_text(text: str) -> str:
    """What the participant meant to send: invisible characters removed, UTF-8 read as Latin-1
    repaired ("JoÃ£o" -> "João"), Unicode composed (NFC)."""
    text = _INVISIBLE_RE.sub("", text or "")
    if _MOJIBAKE_RE.search(text):
        # Not a clean round trip (real Latin-1 text): keep what was sent.
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            text = text.encode("latin-1").decode("utf-8")
    return unicodedata.normalize("NFC", text).strip()


def _turn(
    conversation_id: str, text: str, push_name: str, *, savepoint: bool = True, attachment: Attachment | None = None
) -> TurnResult:
    now = timezone.now()
    text = clean_text(text)[: settings.MAX_MESSAGE_CHARS]
    # Inside the caller's transaction (the pipeline) a savepoint would only
    # cost two round trips: any error here rolls back the caller's block too.
    with transaction.atomic(savepoint=savepoint), knowledge_snapshot():
        state = _load_state(conversation_id, push_name)
        if not state.handoff_open:
            _expire_if_idle(state, now)
        event = active_event()
        was_in_flow = state.registration_step in IN_FLOW_STEPS
        if state.handoff_open:
            # A person holds the conversation: the bot stays silent (the
            # message is kept for them) unless asked to come back.
            from inbox.services import handoff_turn

            replies = handoff_turn(state, text or _("[arquivo enviado]"), now=now)
            if attachment is not None:
                from payments.chat import attachment_turn

                # A receipt sent while a person holds the chat still reaches the review queue.
                attachment_turn(state, attachment, now=now, silent=True, caption=text)
        elif attachment is not None:
            from payments.chat import attachment_turn

            replies = attachment_turn(state, attachment, now=now, caption=text)
            text = text or _("[arquivo enviado]")
        else:
            replies = [r for r in _dispatch(state, text, event) if r]
        choices = _choices(state, replies, event)
        in_flow = was_in_flow or state.registration_step in IN_FLOW_STEPS
        _save(state, text, replies, now, in_flow=in_flow)
    return TurnResult(
        conversation_id=conversation_id, replies=replies, step=state.registration_step, turns=state.turns,
        choices=choices, handoff=state.handoff_open,
    )


def conversation_turn(
    *, conversation_id: str, text: str, push_name: str = "", lock: bool = True, attachment: Attachment | None = None
) -> TurnResult:
    """Run one turn of ``conversation_id`` and return the bot's replies.

    With ``lock=False`` the caller already holds the conversation's lock and
    may wrap this in its own ``transaction.atomic()`` so the state save and
    its own writes commit together. Raises ``StaleConversation`` when the
    state changed during the turn (a stale lock holder), ``LockTimeout`` when
    the conversation stays busy past the lock's wait. ``attachment``: a photo
    or PDF the participant sent (``text`` is then its caption): it goes to
    the organizers' review queue when a receipt or proof is awaited.
    """
    if not lock:
        return _turn(conversation_id, text, push_name, savepoint=False, attachment=attachment)
    with conversation_lock(conversation_id):
        return _turn(conversation_id, text, push_name, attachment=attachment)
