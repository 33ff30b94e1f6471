"""The PSP's Pix webhook and the public QR images.

``POST /payments/pix/webhook/<PIX_WEBHOOK_SECRET>`` (CONTRACT §3), also at
``…/<secret>/pix`` because the Central Bank's API appends ``/pix`` to the
registered URL. The body is never trusted: each txid is confirmed with the
PSP (``GET /v2/cob/{txid}``) by a task before anything is marked paid.
"""

from __future__ import annotations

import hmac
import json
import logging
import re

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from prometheus_client import Counter

logger = logging.getLogger(__name__)

PIX_WEBHOOKS = Counter("pix_webhooks_total", "Pix webhook deliveries by outcome", ["outcome"])
MAX_BODY_BYTES = 1024 * 1024
MAX_ITEMS = 1000


def _secret_ok(given: str) -> bool:
    expected = settings.PIX_WEBHOOK_SECRET
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@csrf_exempt
@require_POST
def pix_webhook(request: HttpRequest, secret: str) -> HttpResponse:
    if not _secret_ok(secret):
        PIX_WEBHOOKS.labels("bad_secret").inc()
        logger.warning("payments.pix_webhook_refused (wrong or unset secret)")
        return JsonResponse({"detail": "Not found."}, status=404)
    if len(request.body) > MAX_BODY_BYTES:
        PIX_WEBHOOKS.labels("too_large").inc()
        return JsonResponse({"detail": "Body too large."}, status=413)
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        payload = None
    items = payload.get("pix") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        PIX_WEBHOOKS.labels("bad_body").inc()
        return JsonResponse({"detail": "Body must be a JSON object with a 'pix' list."}, status=400)
    from payments.tasks import verify_pix

    queued = 0
    txids: set[str] = set()
    for item in items[:MAX_ITEMS]:
        txid = re.sub(r"[^A-Za-z0-9]", "", item.get("txid") or "")[:35] if isinstance(item, dict) and isinstance(item.get("txid"), str) else ""
        if txid and txid not in txids:  # each charge is looked up once per delivery
            txids.add(txid)
            verify_pix.delay(txid, re.sub(r"[^A-Za-z0-9]", "", str(item.get("endToEndId") or ""))[:64])
            queued += 1
    if len(items) > MAX_ITEMS:
        logger.warning("payments.pix_webhook_truncated items=%d (the rest: checked on 'já paguei' and at the deadline)", len(items))
    PIX_WEBHOOKS.labels("ok").inc()
    return JsonResponse({"received": len(items), "queued": queued})


@require_GET
def qr_image(request: HttpRequest, kind: str, token: str) -> HttpResponse:
    """A QR code PNG for a signed value: ``checkin`` (a registration code) or ``pix`` (a charge's txid)."""
    if kind not in ("pix", "checkin"):
        raise Http404
    try:
        value = signing.Signer(salt=f"payments.qr.{kind}").unsign(token)
    except signing.BadSignature as error:
        raise Http404 from error
    if kind == "checkin":
        from registrations.codes import qr_png

        png = qr_png(value)
    else:
        from payments.brcode import qr_png as pix_png
        from payments.models import Payment

        payment = Payment.objects.filter(txid=value, status=Payment.Status.PENDING).exclude(brcode="").first()
        if payment is None:
            raise Http404
        png = pix_png(payment.brcode)
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
