"""POST /whatsapp (CONTRACT §3), in its two shapes.

1. ``{"number", "text"}`` (the original Node gateway): one engine turn inline,
   200 ``{"reply"}``.
2. ``{"message_id", ...}`` (queued): 202 ``{"status": "queued"}`` once the
   message is stored; the same ``message_id`` again: 200 ``"duplicate"``. The
   reply goes out later through ``GATEWAY_URL/send-text``.

The presence of ``message_id`` selects the shape. Bad input is a 400 (413 for
an oversized voice note or file) with a JSON body that names the problem.

The queued shape also carries photos and PDFs (a Pix receipt, a category
proof): ``media_base64`` with its ``mimetype`` (``image/jpeg``,
``image/png``, ``image/webp``, ``image/heic`` or ``application/pdf``) and an
optional ``filename``; ``text`` is then the caption. They reach the
conversation engine as an attachment, in a turn of their own.

``/whatsapp/cloud`` (``CloudWebhookView``, below) is the Cloud API channel's
webhook: same accept, same pipeline.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import (
    OpenApiExample,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chatbot.api import (
    ERROR_BODY,
    BadRequest,
    PayloadTooLarge,
    clean_conversation_id,
    run_turn,
)
from chatbot.audio import AudioTooLarge, decode_audio_base64
from congress.errors import InvalidValue
from whatsapp import metrics
from whatsapp.channels import cloud
from whatsapp.services import (
    INFRA_ERRORS,
    AttachmentRejected,
    AudioRejected,
    attachment_too_large_text,
    attachment_type,
    message_accept,
)

logger = logging.getLogger(__name__)


def _check_text_length(value: str) -> str:
    if len(value) > settings.MAX_MESSAGE_CHARS:
        raise serializers.ValidationError(f"Text longer than {settings.MAX_MESSAGE_CHARS} characters.")
    return value


class SyncInputSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=128, help_text="The conversation: the sender's number (or any id).")
    text = serializers.CharField(trim_whitespace=False)

    def validate_number(self, value: str) -> str:
        return clean_conversation_id(value)

    def validate_text(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("Text must not be empty.")
        return _check_text_length(value)


class QueuedInputSerializer(serializers.Serializer):
    message_id = serializers.CharField(max_length=128, help_text="WhatsApp's message id; it deduplicates retries.")
    number = serializers.CharField(max_length=32, required=False, allow_blank=True, allow_null=True, default="")
    jid = serializers.CharField(max_length=128, required=False, allow_blank=True, allow_null=True, default="")
    text = serializers.CharField(required=False, allow_blank=True, allow_null=True, default="", trim_whitespace=False)
    push_name = serializers.CharField(required=False, allow_blank=True, allow_null=True, default="")
    timestamp = serializers.IntegerField(required=False, allow_null=True, min_value=0, default=None)
    audio_base64 = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default=None, trim_whitespace=False,
        help_text="A voice note, base64 (with an audio mimetype).",
    )
    media_base64 = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default=None, trim_whitespace=False,
        help_text="A photo or PDF, base64 (a Pix receipt, a category proof); text is then its caption."
        " At most MAX_ATTACHMENT_BYTES decoded (413 beyond).",
    )
    mimetype = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=100, default="",
        help_text="The MIME type of audio_base64 (audio/ogg...) or of media_base64: image/jpeg, image/png,"
        " image/webp, image/heic or application/pdf.",
    )
    filename = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=255, default="",
        help_text="The file's name, e.g. comprovante.pdf (media_base64 only).",
    )

    def validate_text(self, value: str | None) -> str:
        return _check_text_length(value or "")

    def validate(self, attrs: dict) -> dict:
        for key in ("number", "jid", "push_name", "mimetype", "filename"):
            attrs[key] = (attrs.get(key) or "").strip()
        if not attrs["number"] and not attrs["jid"]:
            raise serializers.ValidationError({"number": "Send number or jid: they identify the conversation."})
        if attrs.get("audio_base64") and attrs.get("media_base64"):
            raise serializers.ValidationError({"media_base64": "Send audio_base64 or media_base64, not both."})
        if not attrs["text"].strip() and not attrs.get("audio_base64") and not attrs.get("media_base64"):
            raise serializers.ValidationError({"text": "Send text, audio_base64 or media_base64."})
        return attrs


class ReplySerializer(serializers.Serializer):
    reply = serializers.CharField(allow_blank=True)


class QueuedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(["queued", "duplicate"])
    message_id = serializers.CharField()


class WhatsAppView(APIView):
    @extend_schema(
        summary="A message from a WhatsApp gateway (sync or queued shape)",
        request=PolymorphicProxySerializer(
            component_name="WhatsAppMessage",
            serializers=[SyncInputSerializer, QueuedInputSerializer],
            resource_type_field_name=None,
        ),
        responses={
            200: PolymorphicProxySerializer(
                component_name="WhatsAppReplyOrDuplicate",
                serializers=[ReplySerializer, QueuedSerializer],
                resource_type_field_name=None,
            ),
            202: QueuedSerializer,
            400: ERROR_BODY,
            401: ERROR_BODY,
            413: ERROR_BODY,
            415: ERROR_BODY,
            429: ERROR_BODY,
            503: ERROR_BODY,
        },
        examples=[
            OpenApiExample("Original gateway (sync)", value={"number": "5561999990000", "text": "oi"}, request_only=True),
            OpenApiExample(
                "Queued",
                value={
                    "message_id": "3EB0C431C2A1",
                    "number": "5561999990000",
                    "jid": "5561999990000@s.whatsapp.net",
                    "text": "oi",
                    "push_name": "Ana",
                    "timestamp": 1764000000,
                    "audio_base64": None,
                    "mimetype": None,
                },
                request_only=True,
            ),
            OpenApiExample(
                "Queued, a photo or PDF (caption in text)",
                value={
                    "message_id": "3EB0C431C2A2",
                    "number": "5561999990000",
                    "jid": "5561999990000@s.whatsapp.net",
                    "text": "segue o comprovante",
                    "media_base64": "JVBERi0xLjQK…",
                    "mimetype": "application/pdf",
                    "filename": "comprovante.pdf",
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise BadRequest("Send a JSON object.")
        if "message_id" in request.data:
            return self._queued(request)
        return self._sync(request)

    def _sync(self, request: Request) -> Response:
        serializer = SyncInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = run_turn(conversation_id=data["number"], text=data["text"])
        return Response({"reply": result.reply})

    def _queued(self, request: Request) -> Response:
        serializer = QueuedInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        audio = attachment = None
        media, mimetype = data["audio_base64"], data["mimetype"]
        try:
            if data["media_base64"]:
                if mimetype.lower().startswith("audio/"):
                    media = data["media_base64"]  # a voice note sent as media: same as audio_base64
                else:
                    attachment = decode_attachment_base64(data["media_base64"], mimetype)
            if media and not data["text"].strip():
                audio = decode_audio_base64(media, mimetype or "audio/ogg")
            result = message_accept(
                message_id=data["message_id"],
                number=data["number"],
                jid=data["jid"],
                text=data["text"],
                push_name=data["push_name"],
                timestamp=data["timestamp"],
                audio=audio,
                mimetype=mimetype if attachment is None else "",
                source="api",
                attachment=attachment,
                attachment_mimetype=mimetype if attachment is not None else "",
                attachment_name=data["filename"] if attachment is not None else "",
            )
        except (AudioTooLarge, AudioRejected, AttachmentRejected) as exc:
            raise PayloadTooLarge(exc.message) from None
        except InvalidValue as exc:
            raise BadRequest(exc.message) from None
        code = status.HTTP_202_ACCEPTED if result.status == "queued" else status.HTTP_200_OK
        return Response({"status": result.status, "message_id": result.message_id}, status=code)


def decode_attachment_base64(value: str, mimetype: str) -> bytes:
    """The bytes of ``media_base64``; raise ``InvalidValue`` (bad base64, a
    type the engine does not take) or ``AttachmentRejected`` (too large),
    checking the size before decoding so a huge body costs nothing."""
    if attachment_type(mimetype) is None:
        raise InvalidValue(
            _("Formato de arquivo não suportado (%(mimetype)s): envie uma foto (JPG, PNG, WebP ou HEIC) ou um PDF.")
            % {"mimetype": mimetype[:100] or "sem mimetype"}
        )
    value = value.strip()
    if value.startswith("data:") and "," in value:  # tolerate a data: URL
        value = value.split(",", 1)[1]
    if len(value) > (settings.MAX_ATTACHMENT_BYTES + 2) // 3 * 4 + 4:
        raise AttachmentRejected(attachment_too_large_text())
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidValue(_("O campo media_base64 não contém base64 válido.")) from None


# --- /whatsapp/cloud: the WhatsApp Cloud API webhook (CONTRACT §3) ------------------------


@method_decorator(csrf_exempt, name="dispatch")
class CloudWebhookView(View):
    """Meta's webhook: the GET verification handshake, and POSTed messages
    and statuses signed with ``X-Hub-Signature-256``.

    A plain Django view, not DRF: no API key (the signature authenticates
    it), no throttle (Meta's retries must never get a 429), and the raw body
    is what the signature covers, so it is checked before anything parses
    it. Missing or wrong signature: 403 and nothing stored; signed but not
    JSON: 400; otherwise 200 at once whatever the content (each item is
    accepted into the pipeline or logged and counted). Only when the
    database cannot store the messages is the answer 503, so that Meta
    delivers them again (the ``wamid`` deduplicates).
    """

    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        params = request.GET
        if cloud.verify_handshake(params.get("hub.mode"), params.get("hub.verify_token")):
            return HttpResponse(params.get("hub.challenge", ""), content_type="text/plain; charset=utf-8")
        logger.warning("whatsapp.cloud_handshake_refused mode=%s", str(params.get("hub.mode"))[:40])
        return JsonResponse({"detail": "Verification token mismatch."}, status=403)

    def post(self, request: HttpRequest) -> HttpResponse:
        raw = request.body
        if not cloud.signature_valid(raw, request.headers.get("X-Hub-Signature-256")):
            metrics.CLOUD_WEBHOOKS.labels("bad_signature").inc()
            logger.warning(
                "whatsapp.cloud_signature_refused present=%s secret_set=%s",
                "X-Hub-Signature-256" in request.headers, bool(settings.WA_CLOUD_APP_SECRET),
            )
            return JsonResponse({"detail": "Missing or invalid X-Hub-Signature-256."}, status=403)
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
            payload = None
        if not isinstance(payload, dict):
            metrics.CLOUD_WEBHOOKS.labels("not_json").inc()
            return JsonResponse({"detail": "Body is not a JSON object."}, status=400)
        try:
            outcome = cloud.webhook_process(payload)
        except INFRA_ERRORS as exc:
            metrics.CLOUD_WEBHOOKS.labels("unavailable").inc()
            logger.error("whatsapp.cloud_webhook_unavailable error=%s (Meta will deliver again)", exc)
            return JsonResponse({"detail": "Temporarily unavailable."}, status=503)
        metrics.CLOUD_WEBHOOKS.labels("ok").inc()
        return JsonResponse(
            {"accepted": outcome.accepted, "duplicates": outcome.duplicates, "statuses": outcome.statuses,
             "ignored": outcome.ignored}
        )
