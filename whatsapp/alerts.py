"""Channel alerts: what stops a WhatsApp channel and needs a person.

The neonize gateway raises them (the number was logged out or temporarily
banned, the client is outdated, another session took over, it cannot
connect), and so does the Cloud API sender when Meta refuses the account
itself (``cloud_account_kind``: the token expired or lacks a permission, the
business account is locked or blocked). Organizers see the open ones as a banner on every admin page
(``{% whatsapp_alert_banner %}``) and mark them resolved in the admin; a
successful connect resolves the ones it proves over.

One open alert per channel and kind: raising it again while it is open
refreshes its detail and counts the occurrence, it does not add a row. The
gateway is the only writer for its channel (one process per number) and
this module serialises its threads; the Cloud API's writers are many worker
processes, so on PostgreSQL the check-then-insert also holds a transaction
advisory lock per channel and kind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from whatsapp import metrics
from whatsapp.models import Channel, ChannelAlert

logger = logging.getLogger(__name__)

Kind = ChannelAlert.Kind

# What an organizer should do, per kind (the banner shows it under the kind's label).
ACTIONS = {
    Kind.LOGGED_OUT: _(
        "Escaneie o QR code de novo: no servidor, rode “docker compose logs -f gateway” e leia o código em "
        "WhatsApp > Aparelhos conectados. As respostas esperam na fila até lá."
    ),
    Kind.TEMPORARY_BAN: _(
        "Não force o envio nem troque de aparelho: o gateway tenta de novo quando o bloqueio acabar. "
        "Para não depender de um cliente não oficial, veja a WhatsApp Cloud API (docs/whatsapp-cloud-api.md)."
    ),
    Kind.CLIENT_OUTDATED: _(
        "Atualize o neonize (requirements.txt), reconstrua e reinicie o gateway: "
        "“docker compose build gateway && docker compose up -d gateway”."
    ),
    Kind.STREAM_REPLACED: _(
        "Outro gateway ou cliente abriu a mesma sessão e derrubou esta. Pare o outro e marque este alerta "
        "como resolvido: o gateway reconecta em seguida."
    ),
    Kind.CONNECT_FAILED: _(
        "Verifique a internet do servidor e “docker compose logs -f gateway”. O gateway continua tentando; "
        "as respostas esperam na fila."
    ),
    Kind.CLOUD_TOKEN: _(
        "O token de acesso do WhatsApp Cloud API expirou ou foi revogado: gere um novo token permanente "
        "(usuário do sistema no Gerenciador de Negócios), atualize WA_CLOUD_ACCESS_TOKEN e reinicie o app e os "
        "workers. Depois marque este alerta como resolvido e use “Enviar de novo” nas respostas retidas."
    ),
    Kind.CLOUD_PERMISSION: _(
        "O token do WhatsApp Cloud API não tem permissão para enviar por este número: gere um token com "
        "whatsapp_business_messaging e whatsapp_business_management para a conta deste número, atualize "
        "WA_CLOUD_ACCESS_TOKEN e reinicie. Depois marque este alerta como resolvido e use “Enviar de novo” "
        "nas respostas retidas."
    ),
    Kind.CLOUD_ACCOUNT: _(
        "A Meta bloqueou ou restringiu a conta do WhatsApp Business: veja os avisos e a forma de pagamento no "
        "Gerenciador do WhatsApp e, se for o caso, peça revisão. Quando a conta voltar, marque este alerta como "
        "resolvido e use “Enviar de novo” nas respostas retidas."
    ),
}

# Graph API error codes that say the Cloud API account itself cannot send
# (every reply would fail the same way), by the alert they raise. Not here:
# 131047 (one chat's 24-hour window closed), 131026 (one number cannot
# receive), throttling: those concern one message, not the account.
_CLOUD_ACCOUNT_CODES = {
    190: Kind.CLOUD_TOKEN,  # access token expired, revoked or invalid
    10: Kind.CLOUD_PERMISSION,  # permission denied / not granted
    131005: Kind.CLOUD_PERMISSION,  # access denied
    131031: Kind.CLOUD_ACCOUNT,  # business account locked
    131042: Kind.CLOUD_ACCOUNT,  # business eligibility: payment issue
    368: Kind.CLOUD_ACCOUNT,  # temporarily blocked for policy violations
}
CLOUD_ACCOUNT_KINDS = (Kind.CLOUD_TOKEN, Kind.CLOUD_PERMISSION, Kind.CLOUD_ACCOUNT)

# Kinds a successful connect proves over: the network works, the device is
# paired again, the ban has ended, WhatsApp accepts the client's version. A
# replaced session needs a person (the other session must be stopped, or it
# takes the number back): it waits for "Marcar como resolvido".
RESOLVED_BY_CONNECT = (Kind.CONNECT_FAILED, Kind.LOGGED_OUT, Kind.TEMPORARY_BAN, Kind.CLIENT_OUTDATED)

BANNER_LIMIT = 5

_raise_lock = threading.Lock()


def alert_action(kind: str) -> str:
    return str(ACTIONS.get(kind, ""))


def cloud_account_kind(code: int | None) -> str | None:
    """The alert a Graph API error ``code`` raises when it is about the
    account, not the message (200-299 are Graph's permission codes)."""
    if code is None:
        return None
    if 200 <= code <= 299:
        return Kind.CLOUD_PERMISSION
    return _CLOUD_ACCOUNT_CODES.get(code)


def channel_alert_open_of(*, channel: str, kinds: Iterable[str]) -> bool:
    """Whether ``channel`` has an open alert of one of ``kinds``: one query
    on the partial index of open alerts (a handful of rows at most)."""
    return ChannelAlert.objects.filter(resolved_at__isnull=True, channel=channel, kind__in=list(kinds)).exists()


def channel_alert_raise(*, kind: str, channel: str = Channel.GATEWAY, detail: str = "") -> tuple[ChannelAlert, bool]:
    """Open an alert of ``kind`` on ``channel``, unless one is already open
    (then that one is returned with its detail refreshed). Every call logs at
    ERROR and counts in ``whatsapp_channel_alerts_total``.

    Returns ``(alert, created)``. Raises ``ValueError`` for an unknown kind and
    lets database errors through (the caller decides how to degrade).
    """
    if kind not in Kind.values:
        raise ValueError(f"unknown channel alert kind {kind!r}")
    detail = (detail or "")[:500]
    metrics.CHANNEL_ALERTS.labels(channel, kind).inc()
    with _raise_lock, transaction.atomic():
        if connection.vendor == "postgresql":
            # Other processes raise too (Cloud API workers): one at a time per channel and kind.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"channel_alert:{channel}:{kind}"])
        alert = (
            ChannelAlert.objects.select_for_update()
            .filter(channel=channel, kind=kind, resolved_at__isnull=True)
            .order_by("created_at")
            .first()
        )
        created = alert is None
        if alert is None:
            alert = ChannelAlert.objects.create(channel=channel, kind=kind, detail=detail)
        elif detail and alert.detail != detail:
            alert.detail = detail
            alert.save(update_fields=["detail"])
    logger.error(
        "whatsapp.channel_alert channel=%s kind=%s alert=%s new=%s detail=%s", channel, kind, alert.pk, created, detail
    )
    return alert, created


def channel_alert_resolve(
    *,
    alert_ids: Iterable[int] | None = None,
    channel: str | None = None,
    kinds: Iterable[str] | None = None,
    actor: str = "",
) -> int:
    """Mark open alerts resolved: the given ids, or every open alert of
    ``channel`` (optionally only ``kinds``). Returns how many were open.
    Resolving twice changes nothing (only open rows are updated)."""
    open_alerts = ChannelAlert.objects.filter(resolved_at__isnull=True)
    if alert_ids is not None:
        open_alerts = open_alerts.filter(pk__in=list(alert_ids))
    if channel is not None:
        open_alerts = open_alerts.filter(channel=channel)
    if kinds is not None:
        open_alerts = open_alerts.filter(kind__in=list(kinds))
    count = open_alerts.update(resolved_at=timezone.now())
    if count:
        logger.info("whatsapp.channel_alert_resolved count=%s channel=%s actor=%s", count, channel or "-", actor or "-")
    return count


def channel_alert_is_open(alert_id: int) -> bool:
    return ChannelAlert.objects.filter(pk=alert_id, resolved_at__isnull=True).exists()


def channel_alerts_open(*, limit: int = BANNER_LIMIT) -> list[ChannelAlert]:
    """The newest open alerts: one query on the partial index of open alerts."""
    return list(ChannelAlert.objects.filter(resolved_at__isnull=True).order_by("-created_at")[:limit])
