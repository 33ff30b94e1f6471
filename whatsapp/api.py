"""POST /whatsapp (CONTRACT §3), in its two shapes.

1. ``{"number", "text"}`` (the original Node gateway): one engine turn inline,
   200 ``{"reply"}``.
2. ``{"message_id", ...}`` (queued): 202 ``{"status": "queued"}`` once the
   message is stored; the same ``message_id`` again: 200 ``"duplicate"``. The
   reply goes out later through ``GATEWAY_URL/send-text``.

The presence of ``message_id`` selects the shape. Bad input is a 400 (413 for
an oversized voice note) with a JSON body that names the problem.

``/whatsapp/cloud`` (``CloudWebhookView``, below) is the Cloud API channel's
webhook: same accept, same pipeline.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
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
from whatsapp.services import INFRA_ERRORS, AudioRejected, message_accept

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
    audio_base64 = serializers.CharField(required=False, allow_blank=True, allow_null=True, default=None, trim_whitespace=False)
    mimetype = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=100, default="")

    def validate_text(self, value: str | None) -> str:
        return _check_text_length(value or "")

    def validate(self, attrs: dict) -> dict:
        for key in ("number", "jid", "push_name", "mimetype"):
            attrs[key] = (attrs.get(key) or "").strip()
        if not attrs["number"] and not attrs["jid"]:
            raise serializers.ValidationError({"number": "Send number or jid: they identify the conversation."})
        if not attrs["text"].strip() and not attrs.get("audio_base64"):
            raise serializers.ValidationError({"text": "Send text or audio_base64."})
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
        audio = None
        try:
            if data["audio_base64"] and not data["text"].strip():
                audio = decode_audio_base64(data["audio_base64"], data["mimetype"] or "audio/ogg")
            result = message_accept(
                message_id=data["message_id"],
                number=data["number"],
                jid=data["jid"],
                text=data["text"],
                push_name=data["push_name"],
                timestamp=data["timestamp"],
                audio=audio,
                mimetype=data["mimetype"],
                source="api",
            )
        except (AudioTooLarge, AudioRejected) as exc:
            raise PayloadTooLarge(exc.message) from None
        except InvalidValue as exc:
            raise BadRequest(exc.message) from None
        code = status.HTTP_202_ACCEPTED if result.status == "queued" else status.HTTP_200_OK
        return Response({"status": result.status, "message_id": result.message_id}, status=code)


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
