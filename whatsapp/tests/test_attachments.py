"""Photos and PDFs sent in WhatsApp (a Pix receipt, a category proof) reach
the conversation engine as an ``Attachment``, through all three channels
(the queued ``/whatsapp`` shape, the neonize gateway, the Cloud API webhook)
and the one pipeline, exactly once and in order per chat.

The engine hands a file to ``payments.chat.attachment_turn``; these tests
replace that function with a recorder, so what is asserted is exactly what
the pipeline delivered to it (bytes, type, name) and that its reply went out
once. The drain runs as the drain task runs it (``chat_drain(deliver=True)``,
enqueue callbacks captured); the last test uses a real Celery worker.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.utils import timezone
from neonize.exc import DownloadError
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    DocumentMessage,
    FutureProofMessage,
    ImageMessage,
    Message,
)
from rest_framework.test import APIClient

from chatbot.engine import Attachment
from chatbot.models import ConversationState
from congress.testing.fake_graph import GraphFailure
from whatsapp import debounce
from whatsapp.gateway import GatewayHandler
from whatsapp.models import InboundMessage, MessageEvent, OutboundMessage
from whatsapp.services import RetryLater, chat_drain, message_accept
from whatsapp.tests.conftest import CLOUD_WA_ID, cloud_body, cloud_message, new_message_id, queued_body, signed
from whatsapp.tests.test_gateway import NUMBER, RecordingAccept, message_event

CHAT = "5561999990000"  # queued_body's number
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(2048)
JPEG = b"\xff\xd8\xff\xe0" + os.urandom(4096)
PDF = b"%PDF-1.4\n" + os.urandom(3000) + b"\n%%EOF\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def files(monkeypatch):
    """Record every file the engine hands to the payments side; each gets a
    reply naming its position ("arquivo 1", "arquivo 2"...)."""
    import payments.chat

    received: list[tuple[Attachment, bool]] = []

    def attachment_turn(state, attachment, *, now, silent=False, caption=""):
        received.append((attachment, silent))
        return [] if silent else [f"arquivo {len(received)} recebido"]

    monkeypatch.setattr(payments.chat, "attachment_turn", attachment_turn)
    return received


def post(body: dict):
    return APIClient().post("/whatsapp", body, format="json")


@pytest.fixture
def drain(django_capture_on_commit_callbacks):
    """The drain task's work: answer the chat's messages and send the replies."""

    def drain(chat: str = CHAT, *, debounce_ms: int = 0) -> RetryLater | None:
        with django_capture_on_commit_callbacks():
            try:
                chat_drain(chat_id=chat, deliver=True, debounce_ms=debounce_ms)
            except RetryLater as exc:
                return exc
        return None

    return drain


def user_turns(chat: str = CHAT) -> list[str]:
    return [t["text"] for t in ConversationState.objects.get(conversation_id=chat).history if t["role"] == "user"]


# --- /whatsapp, queued shape ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_pdf_with_a_caption_is_queued_with_its_bytes_type_and_name(django_capture_on_commit_callbacks):
    body = queued_body(
        text="segue o comprovante", media_base64=b64(PDF), mimetype="application/pdf", filename="comprovante.pdf"
    )
    with django_capture_on_commit_callbacks():
        response = post(body)
    assert response.status_code == 202, response.content
    assert response.json() == {"status": "queued", "message_id": body["message_id"]}
    row = InboundMessage.objects.get()
    assert bytes(row.attachment) == PDF
    assert (row.attachment_mimetype, row.attachment_name, row.text) == (
        "application/pdf",
        "comprovante.pdf",
        "segue o comprovante",
    )
    assert not row.has_audio and row.mimetype == ""


@pytest.mark.django_db
def test_a_photo_without_any_text_is_accepted():
    response = post(queued_body(text=None, media_base64=b64(JPEG), mimetype="image/jpeg"))
    assert response.status_code == 202, response.content
    row = InboundMessage.objects.get()
    assert (bytes(row.attachment), row.attachment_mimetype, row.text) == (JPEG, "image/jpeg", "")


@pytest.mark.django_db
def test_a_file_over_max_attachment_bytes_is_a_413_with_a_json_body(settings):
    settings.MAX_ATTACHMENT_BYTES = 1000
    response = post(queued_body(text=None, media_base64=b64(PDF), mimetype="application/pdf"))
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert response.json()["detail"] == "O arquivo é grande demais (máximo de 1 KB)."
    assert not InboundMessage.objects.exists()


@pytest.mark.django_db
def test_a_file_just_over_the_limit_after_decoding_is_a_413(settings):
    settings.MAX_ATTACHMENT_BYTES = len(PNG) - 1
    response = post(queued_body(text=None, media_base64=b64(PNG), mimetype="image/png"))
    assert response.status_code == 413


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("media", "mimetype", "says"),
    [
        ("not base64 at all!!", "image/png", "base64"),
        (b64(b"GIF89a" + bytes(100)), "image/gif", "image/gif"),
        (
            b64(b"PK\x03\x04" + bytes(100)),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "PDF",
        ),
        (b64(b"just some text, no PDF here"), "application/pdf", "PDF"),
        (b64(PNG), "", "sem mimetype"),
    ],
    ids=["bad-base64", "gif", "docx", "not-what-it-says", "no-mimetype"],
)
def test_a_bad_or_unsupported_file_is_a_400_that_says_what_is_wrong(media, mimetype, says):
    response = post(queued_body(text=None, media_base64=media, mimetype=mimetype))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid" and says in response.json()["detail"]
    assert not InboundMessage.objects.exists()


@pytest.mark.django_db
def test_audio_and_a_file_in_one_message_is_a_400():
    response = post(
        queued_body(text=None, audio_base64=b64(b"OggS" + bytes(100)), media_base64=b64(PNG), mimetype="image/png")
    )
    assert response.status_code == 400


@pytest.mark.django_db
def test_the_same_file_message_again_is_a_duplicate():
    body = queued_body(text=None, media_base64=b64(PNG), mimetype="image/png")
    assert post(body).status_code == 202
    again = post(body)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert InboundMessage.objects.count() == 1


@pytest.mark.django_db
def test_a_wrong_label_is_corrected_by_the_files_own_signature():
    assert post(queued_body(text=None, media_base64=b64(PNG), mimetype="image/jpeg")).status_code == 202
    assert InboundMessage.objects.get().attachment_mimetype == "image/png"


def test_the_openapi_schema_documents_the_file_fields(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    queued = schema["components"]["schemas"]["QueuedInputRequest"]["properties"]
    assert {"media_base64", "mimetype", "filename"} <= queued.keys()
    assert "application/pdf" in queued["mimetype"]["description"]


# --- the worker: the engine gets the file, the reply goes out once -----------------------------


@pytest.mark.django_db
def test_a_queued_pdf_reaches_the_engine_as_an_attachment_and_is_answered_once(files, drain, fake_gateway):
    body = queued_body(
        text="segue o comprovante", media_base64=b64(PDF), mimetype="application/pdf", filename="comprovante.pdf"
    )
    assert post(body).status_code == 202
    drain()
    assert files == [(Attachment(content=PDF, mimetype="application/pdf", filename="comprovante.pdf"), False)]
    (sent,) = fake_gateway.delivered()
    assert (sent.number, sent.text) == (CHAT, "arquivo 1 recebido")
    row = InboundMessage.objects.get()
    assert (row.status, row.attachment) == ("done", None), "the bytes go once the engine has them"
    assert (row.attachment_mimetype, row.attachment_name) == ("application/pdf", "comprovante.pdf")
    assert OutboundMessage.objects.get().status == "sent"
    assert user_turns() == ["segue o comprovante"], "the caption is the turn's text"
    drain()
    assert len(files) == 1 and len(fake_gateway.delivered()) == 1, "never twice"


@pytest.mark.django_db
def test_three_photos_in_a_row_are_three_turns_answered_in_order(files, drain, fake_gateway):
    photos = [b"\xff\xd8\xff\xe0" + bytes([n]) * 500 for n in range(3)]
    for photo in photos:
        assert post(queued_body(text=None, media_base64=b64(photo), mimetype="image/jpeg")).status_code == 202
    drain()
    assert [attachment.content for attachment, _silent in files] == photos
    assert [r.text for r in fake_gateway.delivered()] == [
        "arquivo 1 recebido",
        "arquivo 2 recebido",
        "arquivo 3 recebido",
    ]
    assert list(InboundMessage.objects.values_list("attachment", flat=True)) == [None, None, None]


@pytest.mark.django_db
def test_a_file_that_keeps_failing_is_given_up_with_an_apology_and_kept_for_reprocess(
    monkeypatch, drain, fake_gateway, settings
):
    import payments.chat

    def broken(state, attachment, *, now, silent=False):
        raise RuntimeError("review queue bug")

    monkeypatch.setattr(payments.chat, "attachment_turn", broken)
    settings.WA_PROCESS_MAX_ATTEMPTS = 1
    assert post(queued_body(text=None, media_base64=b64(PNG), mimetype="image/png")).status_code == 202
    drain()
    row = InboundMessage.objects.get()
    assert row.status == "failed" and bytes(row.attachment) == PNG, "kept for the admin's reprocess"
    (sent,) = fake_gateway.delivered()
    assert "Desculpe" in sent.text


# --- bursts (WA_DEBOUNCE_MS): a file is never merged into text -------------------------------------


def _pending(*items: tuple[float, str, bool]) -> list[debounce.Pending]:
    t0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    return [
        debounce.Pending(id=n + 1, created_at=t0 + dt.timedelta(seconds=s), text=t, attachment=f)
        for n, (s, t, f) in enumerate(items)
    ]


@pytest.mark.parametrize(
    ("items", "size"),
    [
        ([(0, "", True), (0.1, "oi", False)], 1),
        ([(0, "oi", False), (0.1, "tudo", False), (0.2, "", True)], 2),
        ([(0, "", True), (0.1, "", True)], 1),
    ],
    ids=["file-first", "file-ends-the-text-before-it", "two-files"],
)
def test_the_plan_gives_a_file_a_burst_of_its_own_answered_at_once(items, size):
    pending = _pending(*items)
    plan = debounce.plan_burst(
        pending, now=pending[-1].created_at, window=1.5, max_chars=4000, completes=lambda _t: False
    )
    assert (plan.size, plan.wait, plan.reason) == (size, 0.0, "file")


@pytest.fixture
def accept_at(django_capture_on_commit_callbacks):
    def accept(text: str = "", *, at: float, **extra) -> InboundMessage:
        with django_capture_on_commit_callbacks():
            result = message_accept(
                message_id=new_message_id(), number=CHAT, jid=f"{CHAT}@s.whatsapp.net", text=text, **extra
            )
        InboundMessage.objects.filter(pk=result.inbound_id).update(created_at=timezone.now() + dt.timedelta(seconds=at))
        return InboundMessage.objects.get(pk=result.inbound_id)

    return accept


@pytest.mark.django_db
def test_in_a_burst_the_file_gets_its_own_turn_between_the_texts(files, accept_at, drain, fake_gateway):
    accept_at("oi", at=-3.0)
    accept_at("tudo bem", at=-2.9)
    photo = accept_at("meu comprovante", at=-2.8, attachment=JPEG, attachment_mimetype="image/jpeg")
    accept_at("obrigado", at=-2.7)
    for _attempt in range(5):
        if drain(debounce_ms=1500) is None and not InboundMessage.objects.filter(status="pending").exists():
            break
    assert [a.content for a, _silent in files] == [JPEG]
    assert user_turns() == ["oi\ntudo bem", "meu comprovante", "obrigado"]
    replies = OutboundMessage.objects.order_by("id")
    assert [r.inbound_id for r in replies][1] == photo.pk and replies[1].text == "arquivo 1 recebido"
    assert len(fake_gateway.delivered()) == 3


@pytest.mark.django_db
def test_a_burst_of_three_photos_is_three_turns_in_order(files, accept_at, drain, fake_gateway):
    photos = [b"\x89PNG\r\n\x1a\n" + bytes([n]) * 300 for n in range(3)]
    for n, photo in enumerate(photos):
        accept_at(at=-3.0 + n * 0.1, attachment=photo, attachment_mimetype="image/png")
    for _attempt in range(5):
        if drain(debounce_ms=1500) is None and not InboundMessage.objects.filter(status="pending").exists():
            break
    assert [a.content for a, _silent in files] == photos
    assert [r.text for r in fake_gateway.delivered()] == [
        "arquivo 1 recebido",
        "arquivo 2 recebido",
        "arquivo 3 recebido",
    ]


@pytest.mark.django_db
def test_a_file_is_drained_at_once_not_after_the_window(settings, django_capture_on_commit_callbacks, monkeypatch):
    from whatsapp import services

    settings.WA_DEBOUNCE_MS = 1500
    scheduled = []
    monkeypatch.setattr(services, "enqueue_drain", lambda chat, countdown=None: scheduled.append(countdown) or True)
    with django_capture_on_commit_callbacks(execute=True):
        message_accept(message_id=new_message_id(), number=CHAT, attachment=PNG, attachment_mimetype="image/png")
    assert scheduled == [None]


# --- the Cloud API ---------------------------------------------------------------------------------


@pytest.fixture
def webhook(client, fake_graph, settings, django_capture_on_commit_callbacks):
    def webhook(*messages: dict) -> None:
        raw, headers = signed(cloud_body(messages=list(messages)), settings.WA_CLOUD_APP_SECRET)
        with django_capture_on_commit_callbacks():
            response = client.post("/whatsapp/cloud", raw, content_type="application/json", **headers)
        assert response.status_code == 200, response.content

    return webhook


@pytest.mark.django_db
def test_a_cloud_image_is_stored_by_media_id_and_downloaded_by_the_worker(files, webhook, drain, fake_graph):
    fake_graph.add_media("img-1", JPEG, mime_type="image/jpeg")
    webhook(cloud_message("image", id="img-1", mime_type="image/jpeg", sha256="x", caption="comprovante do pix"))
    row = InboundMessage.objects.get()
    assert (row.media_id, row.attachment_mimetype, row.attachment, row.has_audio) == (
        "img-1",
        "image/jpeg",
        None,
        False,
    )
    assert row.text == "comprovante do pix"
    drain(CLOUD_WA_ID)
    assert files == [(Attachment(content=JPEG, mimetype="image/jpeg", filename=""), False)]
    assert len(fake_graph.of_kind("media_meta")) == 1 and len(fake_graph.of_kind("media_download")) == 1
    (sent,) = fake_graph.sent()
    assert (sent.to, sent.text) == (CLOUD_WA_ID, "arquivo 1 recebido")
    assert InboundMessage.objects.get().status == "done"


@pytest.mark.django_db
def test_a_cloud_document_keeps_its_file_name(files, webhook, drain, fake_graph):
    fake_graph.add_media("doc-1", PDF, mime_type="application/pdf")
    webhook(cloud_message("document", id="doc-1", mime_type="application/pdf", filename="carteirinha.pdf", sha256="x"))
    drain(CLOUD_WA_ID)
    assert files == [(Attachment(content=PDF, mimetype="application/pdf", filename="carteirinha.pdf"), False)]
    assert InboundMessage.objects.get().attachment_name == "carteirinha.pdf"


@pytest.mark.django_db
def test_a_cloud_image_delivered_three_times_is_one_turn(files, webhook, drain, fake_graph):
    fake_graph.add_media("img-2", PNG, mime_type="image/png")
    message = cloud_message("image", id="img-2", mime_type="image/png", sha256="x")
    for _n in range(3):
        webhook(message)
    drain(CLOUD_WA_ID)
    drain(CLOUD_WA_ID)
    assert len(files) == 1 and len(fake_graph.sent()) == 1
    assert InboundMessage.objects.count() == 1


@pytest.mark.django_db
def test_a_cloud_file_download_that_fails_for_now_is_retried(files, webhook, drain, fake_graph, fast_retries):
    fake_graph.add_media("img-3", PNG, mime_type="image/png")
    fake_graph.fail_next(GraphFailure.server_error(kind="media"))
    webhook(cloud_message("image", id="img-3", mime_type="image/png", sha256="x"))
    assert isinstance(drain(CLOUD_WA_ID), RetryLater)
    assert InboundMessage.objects.get().status == "pending" and files == []
    assert drain(CLOUD_WA_ID) is None
    assert [a.content for a, _silent in files] == [PNG] and len(fake_graph.sent()) == 1


@pytest.mark.django_db
def test_a_cloud_file_that_stays_unreachable_gets_a_short_answer(
    files, webhook, drain, fake_graph, fast_retries, settings
):
    settings.WA_PROCESS_MAX_ATTEMPTS = 2
    fake_graph.add_media("img-4", PNG, mime_type="image/png")
    fake_graph.fail_next(*[GraphFailure.server_error(kind="media")] * 2)
    webhook(cloud_message("image", id="img-4", mime_type="image/png", sha256="x"))
    assert isinstance(drain(CLOUD_WA_ID), RetryLater)
    assert drain(CLOUD_WA_ID) is None
    (sent,) = fake_graph.sent()
    assert sent.text == "Não consegui abrir o arquivo. Pode enviar de novo?"
    assert files == [] and InboundMessage.objects.get().status == "done"


@pytest.mark.django_db
def test_a_cloud_file_that_is_gone_gets_a_short_answer_not_silence(files, webhook, drain, fake_graph):
    webhook(cloud_message("document", id="expired", mime_type="application/pdf", filename="x.pdf", sha256="x"))
    drain(CLOUD_WA_ID)
    (sent,) = fake_graph.sent()
    assert sent.text == "Não consegui abrir o arquivo. Pode enviar de novo?"
    assert files == []
    assert MessageEvent.objects.filter(kind="failed", detail__contains="download").exists()


@pytest.mark.django_db
def test_a_cloud_file_over_the_limit_is_answered_without_reaching_the_engine(
    files, webhook, drain, fake_graph, settings
):
    settings.MAX_ATTACHMENT_BYTES = 1024
    fake_graph.add_media("big", PDF, mime_type="application/pdf")
    webhook(cloud_message("document", id="big", mime_type="application/pdf", filename="big.pdf", sha256="x"))
    drain(CLOUD_WA_ID)
    (sent,) = fake_graph.sent()
    assert "grande demais" in sent.text and files == []
    assert fake_graph.of_kind("media_download") == [], "the size in the metadata is enough"


@pytest.mark.django_db
def test_a_cloud_document_of_another_type_is_explained_without_a_download(files, webhook, drain, fake_graph):
    webhook(cloud_message("document", id="docx-1", mime_type="application/msword", filename="a.doc", sha256="x"))
    drain(CLOUD_WA_ID)
    (sent,) = fake_graph.sent()
    assert "PDF" in sent.text and files == []
    assert fake_graph.of_kind("media_meta") == []


# --- the neonize gateway ---------------------------------------------------------------------------


class FileClient:
    """The connected neonize client as the handler sees it: ``download_any``
    answers from a table (or raises neonize's DownloadError), sends are recorded."""

    def __init__(self, data: bytes = b"", *, failures: int = 0) -> None:
        self.data, self.failures = data, failures
        self.downloads: list[Message] = []
        self.sent: list[tuple[str, str]] = []

    def download_any(self, message):
        self.downloads.append(message)
        if self.failures:
            self.failures -= 1
            raise DownloadError("failed to download: 404 Not Found")
        return self.data

    def send_message(self, to, text):
        self.sent.append((f"{to.User}@{to.Server}", text))
        return type("SendResponse", (), {"ID": f"WA{len(self.sent)}"})()

    def send_chat_presence(self, *args):
        pass


MEDIA = {"mediaKey": b"k" * 32, "directPath": "/v/t62.7118-24/123", "fileSHA256": b"s" * 32, "fileEncSHA256": b"e" * 32}


def handle(client: FileClient, message: Message, accept=None, **event) -> RecordingAccept:
    accept = accept or RecordingAccept()
    handler = GatewayHandler(accept=accept, inline=True, typing=False)
    handler.FILE_DOWNLOAD_BACKOFF_S = 0.0
    handler.on_message(client, message_event(message, **event))
    return accept


def test_a_photo_is_downloaded_and_accepted_with_its_caption():
    client = FileClient(JPEG)
    accept = handle(
        client,
        Message(imageMessage=ImageMessage(mimetype="image/jpeg", caption="comprovante", fileLength=len(JPEG), **MEDIA)),
    )
    (call,) = accept.calls
    assert (call["attachment"], call["attachment_mimetype"], call["attachment_name"]) == (JPEG, "image/jpeg", "")
    assert (call["text"], call["audio"]) == ("comprovante", None)
    assert len(client.downloads) == 1 and client.downloads[0].imageMessage.directPath == MEDIA["directPath"]


def test_a_pdf_document_is_accepted_with_its_file_name():
    client = FileClient(PDF)
    document = DocumentMessage(mimetype="application/pdf", fileName="comprovante.pdf", fileLength=len(PDF), **MEDIA)
    (call,) = handle(client, Message(documentMessage=document)).calls
    assert (call["attachment"], call["attachment_mimetype"], call["attachment_name"], call["text"]) == (
        PDF,
        "application/pdf",
        "comprovante.pdf",
        "",
    )


def test_a_document_wrapped_with_its_caption_is_unwrapped_for_the_download():
    client = FileClient(PDF)
    document = DocumentMessage(
        mimetype="application/pdf", fileName="c.pdf", caption="pago!", fileLength=len(PDF), **MEDIA
    )
    wrapped = Message(documentWithCaptionMessage=FutureProofMessage(message=Message(documentMessage=document)))
    (call,) = handle(client, wrapped).calls
    assert (call["attachment"], call["text"], call["attachment_name"]) == (PDF, "pago!", "c.pdf")
    assert client.downloads[0].HasField("documentMessage")


def test_a_document_without_a_type_is_read_by_its_name():
    document = DocumentMessage(fileName="Comprovante.PDF", fileLength=len(PDF), **MEDIA)
    (call,) = handle(FileClient(PDF), Message(documentMessage=document)).calls
    assert call["attachment_mimetype"] == "application/pdf"


def test_a_document_of_another_type_is_explained_and_not_downloaded():
    client = FileClient(b"PK")
    document = DocumentMessage(mimetype="application/msword", fileName="a.doc", fileLength=10, **MEDIA)
    accept = handle(client, Message(documentMessage=document))
    assert accept.calls == [] and client.downloads == []
    assert client.sent == [(f"{NUMBER}@s.whatsapp.net", client.sent[0][1])] and "PDF" in client.sent[0][1]


def test_a_file_over_the_limit_is_explained_and_not_downloaded(settings):
    settings.MAX_ATTACHMENT_BYTES = 1000
    client = FileClient(PDF)
    accept = handle(client, Message(imageMessage=ImageMessage(mimetype="image/jpeg", fileLength=5000, **MEDIA)))
    assert accept.calls == [] and client.downloads == []
    assert len(client.sent) == 1 and "grande demais" in client.sent[0][1]


def test_a_failed_download_is_tried_again_then_the_sender_is_asked_to_resend():
    client = FileClient(JPEG, failures=5)
    accept = handle(client, Message(imageMessage=ImageMessage(mimetype="image/jpeg", fileLength=10, **MEDIA)))
    assert accept.calls == [] and len(client.downloads) == GatewayHandler.FILE_DOWNLOAD_ATTEMPTS
    assert [text for _to, text in client.sent] == ["Não consegui abrir o arquivo. Pode enviar de novo?"]


def test_a_download_that_fails_once_is_retried_and_accepted():
    client = FileClient(JPEG, failures=1)
    accept = handle(client, Message(imageMessage=ImageMessage(mimetype="image/jpeg", fileLength=10, **MEDIA)))
    assert [call["attachment"] for call in accept.calls] == [JPEG] and client.sent == []


def test_an_image_without_media_to_download_is_still_read_by_its_caption():
    accept = handle(FileClient(), Message(imageMessage=ImageMessage(caption="meu comprovante")))
    (call,) = accept.calls
    assert call["text"] == "meu comprovante" and "attachment" not in call


@pytest.mark.django_db
def test_a_gateway_photo_reaches_the_engine_through_the_pipeline(files, drain, fake_gateway):
    client = FileClient(PNG)
    image = ImageMessage(mimetype="image/png", caption="pix", fileLength=len(PNG), **MEDIA)
    handle(client, Message(imageMessage=image), accept=message_accept, id="3EB0FILE0001")
    handle(client, Message(imageMessage=image), accept=message_accept, id="3EB0FILE0001")  # redelivered
    drain(NUMBER)
    assert files == [(Attachment(content=PNG, mimetype="image/png", filename=""), False)]
    (sent,) = fake_gateway.delivered()
    assert (sent.body["jid"], sent.text) == (f"{NUMBER}@s.whatsapp.net", "arquivo 1 recebido")


@pytest.mark.django_db
def test_a_gateway_file_that_is_not_what_it_says_is_explained():
    client = FileClient(b"not an image at all")
    handle(
        client, Message(imageMessage=ImageMessage(mimetype="image/jpeg", fileLength=19, **MEDIA)), accept=message_accept
    )
    assert not InboundMessage.objects.exists()
    assert len(client.sent) == 1 and "PDF" in client.sent[0][1]


# --- a real Celery worker ----------------------------------------------------------------------------


@pytest.mark.resilience
@pytest.mark.django_db(transaction=True)
def test_with_a_real_worker_a_photo_posted_three_times_is_answered_once_and_its_bytes_dropped(fake_gateway, settings):
    from congress.testing.procs import child_env, database_url_for_children, start_celery_worker, wait_until
    from whatsapp.tests.conftest import GATEWAY_KEY

    settings.THROTTLE_CONVERSATION_RATE = None
    env = child_env(
        database_url=database_url_for_children(),
        redis_url=settings.REDIS_URL,
        GATEWAY_URL=fake_gateway.url,
        GATEWAY_API_KEY=GATEWAY_KEY,
        BOT_API_KEY="",
        OPENAI_API_KEY="",
        THROTTLE_CONVERSATION_RATE="",
        LOCK_TTL_SECONDS=3,
        WA_SWEEP_INTERVAL_S=0.5,
        WA_SWEEP_AGE_S=1,
    )
    worker = start_celery_worker(env=env, concurrency=4)
    try:
        body = queued_body(text="comprovante", media_base64=b64(PNG), mimetype="image/png", filename="pix.png")

        def send(_n: int) -> int:
            try:
                return APIClient().post("/whatsapp", body, format="json").status_code
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=3) as pool:
            statuses = sorted(pool.map(send, range(3)))
        assert statuses == [200, 200, 202]
        assert wait_until(lambda: OutboundMessage.objects.filter(status="sent").count() == 1, timeout=60)
        assert wait_until(lambda: len(fake_gateway.delivered()) == 1, timeout=10)
        time.sleep(2)  # a few sweeps: nothing else may go out
        assert len(fake_gateway.delivered()) == 1
        row = InboundMessage.objects.get()
        assert (row.status, row.attachment, row.attachment_name) == ("done", None, "pix.png")
    finally:
        worker.stop(timeout=10)
