"""The organizers' inbox in the admin (CONTRACT §5).

- ``GET /admin/inbox/``: the conversations waiting for a person (open
  handoffs), oldest first; ``?status=closed`` lists the recently closed ones.
- ``GET /admin/inbox/<conversation>/``: one conversation's whole transcript
  (the bot's, the participant's and the staff's lines) and a reply box.
- ``POST`` to the same URL: ``text=<reply>`` answers, ``action=assign``
  takes the conversation ("Assumir"), ``action=resolve`` gives it back to the
  bot ("Devolver ao robô").

Both pages need ``inbox.answer_conversations`` ("Organizadores" and "Equipe"
have it). Writes go through ``inbox.services``; these views only translate
their outcomes into admin messages. The list costs the same few queries
whatever the number of rows.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.contrib import admin, messages
from django.core.exceptions import BadRequest, PermissionDenied
from django.db.models import OuterRef, Prefetch, Subquery
from django.db.models.functions import Left
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from chatbot.models import ConversationState
from congress.errors import InvalidValue
from congress.locks import LockTimeout
from inbox.models import Handoff, HandoffMessage
from inbox.services import MAX_REPLY_CHARS, handoff_assign, handoff_resolve, staff_name, staff_reply
from registrations.models import Participant
from whatsapp.markup import mask_cpfs, whatsapp_html

ANSWER_PERMISSION = "inbox.answer_conversations"
# How much of a last message the list shows, and reads from the database.
PREVIEW_CHARS = 160
PREVIEW_FETCH = 4 * PREVIEW_CHARS
# Rows per tab, and lines per transcript: beyond these the page says so.
LIST_LIMIT = 300
TRANSCRIPT_LIMIT = 500
# "Encerradas recentemente": closed in the last week.
RECENTLY = dt.timedelta(days=7)


def _require_answer_permission(request: HttpRequest) -> None:
    if not request.user.has_perm(ANSWER_PERMISSION):
        raise PermissionDenied


# --------------------------------------------------------------------------
# Small texts
# --------------------------------------------------------------------------


def elapsed(delta: dt.timedelta) -> str:
    """``há 2 h 5 min``, ``há 3 dias 4 h``, ``há menos de 1 min``."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 1:
        return _("há menos de 1 min")
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("%(n)d dia", "%(n)d dias", days) % {"n": days})
    if hours:
        parts.append(f"{hours} h")
    if mins and not days:
        parts.append(f"{mins} min")
    return _("há %(time)s") % {"time": " ".join(parts)}


def _preview(text: str, *, cut: bool = False) -> str:
    """One line of at most PREVIEW_CHARS, CPFs masked (the list shows them to
    everyone who answers). ``cut``: the text is a head the database cut, whose
    last number may be a CPF cut in two, too short to be recognised: dropped."""
    if cut:
        text = re.sub(r"[\d.\s/-]+$", "", text or "")
    text = mask_cpfs(" ".join((text or "").split()))
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def _own_name(conversation: ConversationState) -> str:
    """The name of the conversation's own registration (not of people it
    registered for others), from its prefetched participants; "" when none.
    The same choice as ``chatbot.registration.own_registration``: the
    confirmed one, else the most recent."""
    data = conversation.data if isinstance(conversation.data, dict) else {}
    relatives = {int(pk) for pk in data.get("others") or () if str(pk).isdigit()}
    mine = [p for p in conversation.participants.all() if p.pk not in relatives]
    chosen = next((p for p in mine if p.status == Participant.Status.CONFIRMED), mine[0] if mine else None)
    return chosen.full_name if chosen is not None else ""


def conversation_url(conversation: ConversationState) -> str:
    return reverse("admin-inbox-conversation", args=[conversation.pk])


# --------------------------------------------------------------------------
# The list
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxRow:
    handoff: Handoff
    name: str
    push_name: str
    number: str
    last_who: str
    last_text: str
    since: str
    assignee: str
    url: str


def _last_history_line(conversation: ConversationState) -> tuple[str, str]:
    """The participant's last line in the conversation's history: what they
    asked when they called for a person (a handoff has no lines of its own yet)."""
    history = conversation.history if isinstance(conversation.history, list) else []
    for turn in reversed(history):
        if isinstance(turn, dict) and turn.get("role") == "user" and turn.get("text"):
            return _("Participante"), str(turn["text"])
    return "", ""


def inbox_rows(*, closed: bool = False, now: dt.datetime | None = None) -> list[InboxRow]:
    """Open handoffs oldest first, or those closed in the last week newest
    first: three queries whatever the number of rows (the handoffs with their
    conversation, assignee and last line; the conversations' registrations)."""
    now = now or timezone.now()
    last = HandoffMessage.objects.filter(handoff=OuterRef("pk")).order_by("-created_at", "-id")
    handoffs = (
        Handoff.objects.select_related("conversation", "assigned_to")
        .prefetch_related(
            Prefetch(
                "conversation__participants",
                queryset=Participant.objects.only("id", "full_name", "status", "conversation_id").order_by(
                    "-updated_at", "-id"
                ),
            )
        )
        .annotate(
            last_role=Subquery(last.values("role")[:1]),
            last_author=Subquery(last.values("author_name")[:1]),
            last_text=Subquery(last.annotate(head=Left("text", PREVIEW_FETCH)).values("head")[:1]),
        )
    )
    if closed:
        handoffs = handoffs.filter(status=Handoff.Status.CLOSED, closed_at__gte=now - RECENTLY).order_by("-closed_at", "-id")
    else:
        handoffs = handoffs.filter(status=Handoff.Status.OPEN).order_by("opened_at", "id")
    roles = dict(HandoffMessage.Role.choices)
    rows = []
    for handoff in handoffs[:LIST_LIMIT]:
        conversation = handoff.conversation
        if handoff.last_role:
            who = handoff.last_author if handoff.last_role == HandoffMessage.Role.STAFF and handoff.last_author else None
            last_who, last_text = who or str(roles.get(handoff.last_role, "")), handoff.last_text or ""
            cut = len(last_text) >= PREVIEW_FETCH
        else:
            (last_who, last_text), cut = _last_history_line(conversation), False
        registered = _own_name(conversation)
        rows.append(
            InboxRow(
                handoff=handoff,
                name=registered or conversation.push_name or _("(sem nome)"),
                push_name=conversation.push_name if registered and conversation.push_name != registered else "",
                number=conversation.conversation_id,
                last_who=last_who,
                last_text=_preview(last_text, cut=cut),
                since=elapsed(now - (handoff.closed_at if closed and handoff.closed_at else handoff.opened_at)),
                assignee=staff_name(handoff.assigned_to) or _("ninguém"),
                url=conversation_url(conversation),
            )
        )
    return rows


def inbox_view(request: HttpRequest) -> HttpResponse:
    _require_answer_permission(request)
    closed = request.GET.get("status") == "closed"
    rows = inbox_rows(closed=closed)
    context = {
        **admin.site.each_context(request),
        "title": _("Caixa de atendimento"),
        "rows": rows,
        "closed": closed,
        "limited": len(rows) >= LIST_LIMIT,
        "list_limit": LIST_LIMIT,
        "handoff_list_url": reverse("admin:inbox_handoff_changelist") if request.user.has_perm("inbox.view_handoff") else "",
    }
    return render(request, "admin/inbox/inbox.html", context)


# --------------------------------------------------------------------------
# One conversation
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One line of the transcript, as the page shows it."""

    at: dt.datetime | None
    role: str  # participant | bot | staff: the style
    who: str
    html: SafeString
    status: str = ""
    status_ok: bool = True
    outbound_id: int | None = None


def _stamp(value) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, dt.UTC)


_HISTORY_ROLES = {"user": "participant", "assistant": "bot", "staff": "staff"}
_DELIVERED = {"sent", "delivered", "read"}


def _history_lines(conversation: ConversationState, windows: list[tuple[dt.datetime, dt.datetime | None]]) -> list[Line]:
    """The conversation's stored history, but for what happened while a
    handoff was open (its own lines tell that, and outlive the history's
    pruning). A line without a time keeps the time of the line before it."""
    lines = []
    previous: dt.datetime | None = None
    history = conversation.history if isinstance(conversation.history, list) else []
    for turn in history:
        if not isinstance(turn, dict) or turn.get("role") not in _HISTORY_ROLES:
            continue
        at = _stamp(turn.get("at") or turn.get("timestamp"))
        if at is not None and any(opened <= at and (closed is None or at <= closed) for opened, closed in windows):
            previous = at
            continue
        role = _HISTORY_ROLES[turn["role"]]
        who = {"participant": _("Participante"), "bot": _("Assistente")}.get(role) or str(turn.get("by") or _("Equipe"))
        lines.append(Line(at=at or previous, role=role, who=who, html=whatsapp_html(str(turn.get("text", "")))))
        previous = at or previous
    return lines


def _delivery(line: HandoffMessage) -> tuple[str, bool]:
    if line.outbound is not None:
        return line.outbound.get_status_display(), line.outbound.status in _DELIVERED
    if line.role != HandoffMessage.Role.STAFF:
        return "", True
    if line.provider_message_id or not line.author_id:
        return _("enviada pelo celular"), True
    return _("não enviada: esta conversa não é do WhatsApp"), False


def _handoff_lines(conversation: ConversationState) -> tuple[list[Line], bool]:
    """The lines of every handoff of the conversation (the latest
    TRANSCRIPT_LIMIT), and whether older ones were left out."""
    rows = list(
        HandoffMessage.objects.filter(handoff__conversation=conversation)
        .select_related("outbound", "author")
        .order_by("-created_at", "-id")[: TRANSCRIPT_LIMIT + 1]
    )
    cut = len(rows) > TRANSCRIPT_LIMIT
    lines = []
    for row in reversed(rows[:TRANSCRIPT_LIMIT]):
        if row.role == HandoffMessage.Role.STAFF:
            who = row.author_name or staff_name(row.author) or _("Equipe")
        else:
            who = _("Participante") if row.role == HandoffMessage.Role.PARTICIPANT else _("Assistente")
        status, ok = _delivery(row)
        lines.append(
            Line(
                at=row.created_at, role=row.role, who=who, html=whatsapp_html(row.text), status=status, status_ok=ok,
                outbound_id=row.outbound_id,
            )
        )
    return lines, cut


def transcript(conversation: ConversationState, handoffs: list[Handoff]) -> tuple[list[Line], bool]:
    """The whole conversation in time order: its history outside the
    handoffs, and every handoff's lines."""
    windows = [(h.opened_at, h.closed_at if h.status == Handoff.Status.CLOSED else None) for h in handoffs]
    staffed, cut = _handoff_lines(conversation)
    lines = _history_lines(conversation, windows) + staffed
    earliest = dt.datetime.min.replace(tzinfo=dt.UTC)
    # Stable: at the same moment, the history's line (the request) comes first.
    lines.sort(key=lambda line: line.at or earliest)
    return lines, cut


def find_conversation(key: str) -> ConversationState:
    """By primary key, else by ``conversation_id`` (phone numbers are digits too); 404 when neither."""
    if key.isdigit() and int(key) < 2**63:
        found = ConversationState.objects.filter(pk=int(key)).first()
        if found is not None:
            return found
    found = ConversationState.objects.filter(conversation_id=key).first()
    if found is None:
        raise Http404(_("Conversa não encontrada."))
    return found


def _page(request: HttpRequest, conversation: ConversationState, *, draft: str = "") -> HttpResponse:
    from chatbot.registration import own_registration

    handoffs = list(conversation.handoffs.select_related("assigned_to", "closed_by").order_by("opened_at", "id"))
    current = next((h for h in handoffs if h.status == Handoff.Status.OPEN), None)
    lines, cut = transcript(conversation, handoffs)
    registration = own_registration(conversation)
    can_view_participant = request.user.has_perm("registrations.view_participant")
    name = (registration.full_name if registration else "") or conversation.push_name or _("(sem nome)")
    context = {
        **admin.site.each_context(request),
        "title": name,
        "subtitle": _("Caixa de atendimento"),
        "conversation": conversation,
        "name": name,
        "registration": registration,
        "registration_url": (
            reverse("admin:registrations_participant_change", args=[registration.id])
            if registration is not None and can_view_participant
            else ""
        ),
        "handoff": current,
        "last_handoff": handoffs[-1] if handoffs else None,
        "assignee": staff_name(current.assigned_to) if current else "",
        "assigned_to_me": current is not None and current.assigned_to_id == request.user.pk,
        "lines": lines,
        "cut": cut,
        "transcript_limit": TRANSCRIPT_LIMIT,
        "draft": draft,
        "max_chars": MAX_REPLY_CHARS,
        "inbox_url": reverse("admin-inbox"),
    }
    return render(request, "admin/inbox/conversation.html", context)


def conversation_view(request: HttpRequest, key: str) -> HttpResponse:
    _require_answer_permission(request)
    conversation = find_conversation(key)
    if request.method == "POST":
        return _act(request, conversation)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "POST"])
    return _page(request, conversation)


def _act(request: HttpRequest, conversation: ConversationState) -> HttpResponse:
    """Answer, take or give back the conversation; then back to its page."""
    action = request.POST.get("action", "")
    text = request.POST.get("text", "")
    if action not in ("", "assign", "resolve") or (not action and "text" not in request.POST):
        raise BadRequest(_("Ação desconhecida."))
    try:
        if action == "assign":
            handoff_assign(conversation=conversation, user=request.user)
            messages.success(request, _("Você assumiu a conversa."))
        elif action == "resolve":
            if handoff_resolve(conversation=conversation, user=request.user):
                messages.success(request, _("Conversa devolvida ao assistente."))
            else:
                messages.warning(request, _("Esta conversa já estava com o assistente: nada mudou."))
        else:
            line = staff_reply(conversation=conversation, user=request.user, text=text)
            if line.outbound_id is None:
                messages.warning(
                    request,
                    _("Resposta registrada, mas esta conversa não é do WhatsApp (site ou teste): ninguém a recebe por lá."),
                )
            else:
                messages.success(request, _("Resposta enviada."))
    except InvalidValue as exc:
        messages.error(request, exc.message)
        return _page(request, conversation, draft=text)
    except LockTimeout:
        messages.error(request, _("A conversa está ocupada agora (o assistente está respondendo). Tente de novo em alguns segundos."))
        return _page(request, conversation, draft=text)
    return HttpResponseRedirect(conversation_url(conversation), status=303)
