"""POST /chat and POST /transcribe-audio (CONTRACT §3). Thin: validate, call
the engine or the LLM wrapper, translate errors into JSON."""

from __future__ import annotations

import logging

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chatbot.audio import AudioTooLarge, check_audio_bytes, check_mimetype, decode_audio_base64
from chatbot.engine import StaleConversation, conversation_turn
from congress.api_errors import PayloadTooLarge, ServiceUnavailable
from congress.errors import InvalidValue
from congress.locks import LockTimeout

logger = logging.getLogger(__name__)

ERROR_BODY = inline_serializer("Error", {"error": serializers.CharField(), "detail": serializers.CharField()})


class BadRequest(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"


def clean_conversation_id(value: str) -> str:
    value = value.strip()
    if not value or any(ord(ch) < 32 for ch in value):
        raise serializers.ValidationError("Must be a non-empty identifier without control characters.")
    return value


class ChatView(APIView):
    class ChatInputSerializer(serializers.Serializer):
        user_id = serializers.CharField(max_length=128, trim_whitespace=True)
        message = serializers.CharField(trim_whitespace=False, allow_blank=False)

        def validate_user_id(self, value: str) -> str:
            return clean_conversation_id(value)

        def validate_message(self, value: str) -> str:
            if len(value) > settings.MAX_MESSAGE_CHARS:
                raise serializers.ValidationError(f"Message longer than {settings.MAX_MESSAGE_CHARS} characters.")
            if not value.strip():
                raise serializers.ValidationError("Message must not be empty.")
            return value

    class ChatOutputSerializer(serializers.Serializer):
        user_id = serializers.CharField()
        reply = serializers.CharField(allow_blank=True)
        turns = serializers.IntegerField()
        registration_step = serializers.CharField()
        handoff = serializers.BooleanField(help_text="A person holds the conversation: the bot stays silent (reply is empty).")

    @extend_schema(
        request=ChatInputSerializer,
        responses={
            200: ChatOutputSerializer,
            **{code: ERROR_BODY for code in (400, 401, 413, 415, 429, 503)},
        },
        summary="One synchronous conversation turn",
    )
    def post(self, request: Request) -> Response:
        serializer = self.ChatInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = run_turn(conversation_id=serializer.validated_data["user_id"], text=serializer.validated_data["message"])
        body = {
            "user_id": result.conversation_id,
            "reply": result.reply,
            "turns": result.turns,
            "registration_step": str(result.step),
            "handoff": result.handoff,
        }
        return Response(self.ChatOutputSerializer(body).data)


def run_turn(*, conversation_id: str, text: str, push_name: str = ""):
    """The synchronous turn of /chat and the original-gateway /whatsapp shape."""
    for attempt in range(2):
        try:
            return conversation_turn(conversation_id=conversation_id, text=text, push_name=push_name)
        except StaleConversation:
            if attempt:
                raise ServiceUnavailable("The conversation is busy; try again.") from None
        except LockTimeout:
            raise ServiceUnavailable("The conversation is busy; try again.") from None
    raise AssertionError("unreachable")


class TranscribeAudioView(APIView):
    class TranscribeInputSerializer(serializers.Serializer):
        audio_base64 = serializers.CharField(required=False, trim_whitespace=False)
        mimetype = serializers.CharField(required=False, max_length=100)
        file = serializers.FileField(required=False)

    class TranscribeOutputSerializer(serializers.Serializer):
        text = serializers.CharField(allow_blank=True)

    @extend_schema(
        request=TranscribeInputSerializer,
        responses={
            200: TranscribeOutputSerializer,
            **{code: ERROR_BODY for code in (400, 401, 413, 415, 429, 503)},
        },
        summary="Transcribe a voice note (Whisper)",
    )
    def post(self, request: Request) -> Response:
        from chatbot.llm import LLMError, get_llm

        if not isinstance(request.data, dict) and not hasattr(request.data, "getlist"):
            raise BadRequest("Send a JSON object or a multipart file.")
        upload = request.FILES.get("file")
        try:
            if upload is not None:
                if upload.size > settings.MAX_AUDIO_BYTES:
                    raise AudioTooLarge("Audio larger than MAX_AUDIO_BYTES.")
                mimetype = check_mimetype(request.data.get("mimetype") or upload.content_type)
                audio = check_audio_bytes(upload.read())
                filename = upload.name or "audio"
            else:
                b64 = request.data.get("audio_base64")
                mimetype = request.data.get("mimetype")
                if not isinstance(b64, str) or not isinstance(mimetype, str | type(None)):
                    raise InvalidValue("Send audio_base64 (string) and mimetype, or a multipart file.")
                audio = decode_audio_base64(b64, mimetype)
                mimetype = check_mimetype(mimetype)
                filename = "audio"
        except AudioTooLarge as exc:
            raise PayloadTooLarge(exc.message) from None
        except InvalidValue as exc:
            raise BadRequest(exc.message) from None

        llm = get_llm()
        if llm is None:
            raise ServiceUnavailable("Transcription is not configured (no OPENAI_API_KEY).")
        try:
            text = llm.transcribe(audio, mimetype=mimetype, filename=filename)
        except LLMError as exc:
            if exc.status in (400, 413, 415, 422):
                # The speech-to-text service refused this audio (undecodable): bad input, not an outage.
                raise BadRequest("The audio could not be decoded; send a valid voice note.") from None
            logger.warning("Transcription failed", exc_info=True)
            raise ServiceUnavailable("The transcription service is unavailable; try again shortly.") from None
        return Response({"text": text})


