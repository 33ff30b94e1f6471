"""A person answering from the business's own number (issue 14, item 4):
messages the business sends from its phone reach us as neonize "from me"
events (the gateway) or as Cloud API ``smb_message_echoes`` (coexistence).
Each opens a handoff for that chat and is recorded as a staff line, so the
bot never talks over the person; our own sends never count.

neonize events are hand-built protobufs fed through a real neonize client's
dispatcher (as in test_gateway.py); the Cloud webhook is POSTed signed
through Django's test client (as in test_cloud_webhook.py). The pipeline's
drain runs in-process with its enqueue callbacks captured.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

import pytest
from django.utils import timezone
from neonize.client import NewClient
from neonize.events import MessageEv
from neonize.proto.Neonize_pb2 import JID, MessageInfo, MessageSource
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ImageMessage, Message, ReactionMessage

from chatbot.models import ConversationState
from inbox.models import Handoff, HandoffMessage
from whatsapp.gateway import GatewayHandler, RecentKeys, SendTextServer
from whatsapp.models import InboundMessage, OutboundMessage
from whatsapp.services import chat_drain, message_accept
from whatsapp.tests.conftest import CLOUD_WA_ID, cloud_body, cloud_message, new_message_id, new_wamid, signed
from whatsapp.tests.test_gateway import FakeWhatsApp, feed

pytestmark = pytest.mark.django_db

BUSINESS = "5561930000000"  # the number the gateway is linked to
CUSTOMER = "5561999990000"
LID = "123456789012345"


def jid(user: str, server: str = "s.whatsapp.net", device: int = 0) -> JID:
    return JID(User=user, Server=server, Device=device, RawAgent=0, Integrator=0, IsEmpty=False)


def phone_event(
    message: Message | str = "Oi, aqui é a Marta da organização.",
    *,
    id: str = "3EB0PHONE0001",
    chat: JID | None = None,
    recipient_alt: JID | None = None,
    sender: JID | None = None,
    group: bool = False,
    timestamp: int | None = None,
) -> MessageEv:
    """A message the business sent from its phone (device 0) to ``chat``."""
    if isinstance(message, str):
        message = Message(conversation=message)
    source = MessageSource(Chat=chat or jid(CUSTOMER), Sender=sender or jid(BUSINESS), IsFromMe=True, IsGroup=group)
    if recipient_alt is not None:
        source.RecipientAlt.CopyFrom(recipient_alt)
    info = MessageInfo(ID=id, Pushname="Congresso", Timestamp=timestamp or int(time.time()), MessageSource=source)
    return MessageEv(Info=info, Message=message)


@pytest.fixture
def wa_client(tmp_path):
    """A real neonize client (not connected), whose sends are recorded."""
    client = NewClient(str(tmp_path / "session.sqlite3"))
    client.sent = []
    client.send_message = lambda to, text: client.sent.append((f"{to.User}@{to.Server}", text))
    return client


@pytest.fixture
def sent_ids():
    """This test's own memory of the ids the gateway sent."""
    return RecentKeys()


@pytest.fixture
def phone(wa_client, sent_ids):
    """Feed events through the dispatcher to the gateway's handler, inline,
    with the real message_accept and phone_reply."""
    # The customer talked to the bot before: a phone message to anyone else changes nothing.
    ConversationState.objects.create(conversation_id=CUSTOMER, turns=1)
    handler = GatewayHandler(inline=True, typing=False, accept_groups=False, sent=sent_ids)
    wa_client.handler = handler  # neonize keeps handlers as weak references
    wa_client.event(MessageEv)(handler.on_message)
    return lambda ev: feed(wa_client, ev)


def open_handoff(chat_id: str) -> Handoff | None:
    return Handoff.objects.filter(conversation__conversation_id=chat_id, status=Handoff.Status.OPEN).first()


def staff_lines(chat_id: str) -> list[tuple[str, str]]:
    return list(
        HandoffMessage.objects.filter(handoff__conversation__conversation_id=chat_id, role=HandoffMessage.Role.STAFF)
        .order_by("id")
        .values_list("text", "provider_message_id")
    )


# --- neonize: from-me messages -----------------------------------------------------------------------


def test_a_message_typed_on_the_business_phone_opens_a_handoff_recorded_as_staff(phone):
    phone(phone_event("Oi Ana, aqui é a Marta. Já vejo sua inscrição.", id="3EB0PHONE0001"))
    handoff = open_handoff(CUSTOMER)
    assert handoff is not None and handoff.reason == Handoff.Reason.PHONE
    assert ConversationState.objects.get(conversation_id=CUSTOMER).handoff_open
    assert staff_lines(CUSTOMER) == [("Oi Ana, aqui é a Marta. Já vejo sua inscrição.", "3EB0PHONE0001")]
    assert handoff.last_staff_at is not None
    assert InboundMessage.objects.count() == 0, "a person's line is not a participant's message"


def test_the_same_phone_message_delivered_twice_is_recorded_once(phone):
    phone(phone_event(id="3EB0PHONE0002"))
    phone(phone_event(id="3EB0PHONE0002"))
    assert len(staff_lines(CUSTOMER)) == 1
    assert Handoff.objects.count() == 1


def test_a_from_me_message_whose_id_the_outbox_stored_as_ours_is_ignored(phone):
    OutboundMessage.objects.create(
        chat_id=CUSTOMER, number=CUSTOMER, text="Resposta do assistente", status=OutboundMessage.Status.SENT,
        provider_message_id="3EB0OURS0001", sent_at=timezone.now(),
    )
    phone(phone_event("texto que o WhatsApp mostrou diferente", id="3EB0OURS0001"))
    assert not Handoff.objects.exists()
    assert not HandoffMessage.objects.exists()


def test_a_from_me_message_with_an_id_this_gateway_just_sent_is_ignored(phone, sent_ids):
    sent_ids.add("3EB0OURS0002")  # sent by /send-text, not stored by the pipeline yet
    phone(phone_event(id="3EB0OURS0002"))
    assert not Handoff.objects.exists()


def test_a_from_me_message_repeating_a_reply_we_sent_to_that_chat_just_now_is_ignored(phone):
    OutboundMessage.objects.create(chat_id=CUSTOMER, number=CUSTOMER, text="Inscrição confirmada ✅")
    phone(phone_event("Inscrição confirmada ✅", id="3EB0ECHO0001"))
    assert not Handoff.objects.exists()


def test_the_same_text_as_an_old_reply_is_a_persons_message(phone):
    row = OutboundMessage.objects.create(chat_id=CUSTOMER, number=CUSTOMER, text="Obrigado!")
    OutboundMessage.objects.filter(pk=row.pk).update(created_at=timezone.now() - dt.timedelta(minutes=3))
    phone(phone_event("Obrigado!", id="3EB0ECHO0002"))
    assert staff_lines(CUSTOMER) == [("Obrigado!", "3EB0ECHO0002")]


@pytest.mark.parametrize(
    ("chat", "group"),
    [
        (jid("120363040000000000", "g.us"), True),
        (jid("status", "broadcast"), False),
        (jid("120363000000000000", "newsletter"), False),
        (jid(BUSINESS), False),
    ],
    ids=["group", "status-broadcast", "newsletter", "message-yourself"],
)
def test_a_from_me_message_outside_a_one_to_one_chat_does_nothing(phone, chat, group):
    phone(phone_event("aviso para todos", chat=chat, group=group))
    assert not Handoff.objects.exists()
    assert not ConversationState.objects.exclude(conversation_id__in=[CUSTOMER, CLOUD_WA_ID]).exists()


def test_a_from_me_message_without_text_or_media_does_nothing(phone):
    reaction = Message(reactionMessage=ReactionMessage(text="👍"))
    phone(phone_event(reaction))
    assert not Handoff.objects.exists()


def test_a_photo_sent_from_the_phone_is_recorded_with_a_placeholder(phone):
    phone(phone_event(Message(imageMessage=ImageMessage(mimetype="image/jpeg")), id="3EB0IMG00001"))
    assert staff_lines(CUSTOMER) == [("[imagem]", "3EB0IMG00001")]


def test_a_from_me_message_older_than_the_idle_window_does_nothing(phone, settings):
    settings.HANDOFF_IDLE_HOURS = 24
    phone(phone_event(timestamp=int(time.time()) - 25 * 3600))
    assert not Handoff.objects.exists()


@pytest.mark.parametrize(
    ("chat", "recipient_alt", "existing", "expected"),
    [
        (jid(LID, "lid"), jid(CUSTOMER), CUSTOMER, CUSTOMER),
        (jid(LID, "lid"), None, f"{LID}@lid", f"{LID}@lid"),
        (jid(LID, "lid"), jid(CUSTOMER), f"{LID}@lid", f"{LID}@lid"),
        (jid(LID, "lid"), None, None, None),
        (jid(CUSTOMER), jid(LID, "lid"), f"{LID}@lid", f"{LID}@lid"),
    ],
    ids=["lid-with-phone-alt", "lid-conversation", "lid-conversation-wins-over-new-phone", "lid-only", "phone-chat-of-lid-conversation"],
)
def test_an_lid_chat_is_the_conversation_the_inbound_path_keys_it_by(phone, chat, recipient_alt, existing, expected):
    ConversationState.objects.filter(conversation_id=CUSTOMER).delete()
    if existing:
        ConversationState.objects.create(conversation_id=existing, turns=1)
    phone(phone_event(chat=chat, recipient_alt=recipient_alt))
    assert list(Handoff.objects.values_list("conversation__conversation_id", flat=True)) == ([expected] if expected else [])


def test_an_lid_contact_whose_messages_carry_the_phone_shares_the_conversation(phone):
    """Inbound from @lid with SenderAlt is keyed by the phone; the phone's reply to that @lid lands there."""
    message_accept(message_id=new_message_id(), number=CUSTOMER, jid=f"{LID}@lid", text="oi")
    phone(phone_event(chat=jid(LID, "lid"), recipient_alt=jid(CUSTOMER)))
    assert open_handoff(CUSTOMER) is not None


def test_an_error_recording_a_phone_message_is_logged_and_never_reaches_neonize(wa_client, caplog):
    def explode(**_kwargs):
        raise RuntimeError("database on fire")

    handler = GatewayHandler(inline=True, typing=False, phone_reply=explode, sent=RecentKeys())
    with caplog.at_level(logging.ERROR, logger="whatsapp.gateway"):
        handler.on_message(wa_client, phone_event())  # no exception
    assert "whatsapp.gateway_phone_reply_error" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_gateways_pool_records_phone_messages_in_order(wa_client):
    ConversationState.objects.create(conversation_id=CUSTOMER, turns=1)
    handler = GatewayHandler(typing=False, sent=RecentKeys())  # the real services, on the pool
    for n in range(3):
        handler.on_message(wa_client, phone_event(f"linha {n}", id=f"3EB0POOLPH0{n}"))
    handler.shutdown()
    assert staff_lines(CUSTOMER) == [(f"linha {n}", f"3EB0POOLPH0{n}") for n in range(3)]


# --- neonize: through the pipeline -------------------------------------------------------------------


@pytest.fixture
def drain(django_capture_on_commit_callbacks):
    """The drain task's work for a chat: answer its messages and send the replies."""

    def drain(chat: str) -> None:
        with django_capture_on_commit_callbacks():
            chat_drain(chat_id=chat, deliver=True)

    return drain


def participant_says(text: str, chat: str = CUSTOMER) -> None:
    message_accept(message_id=new_message_id(), number=chat, jid=f"{chat}@s.whatsapp.net", text=text, source="gateway")


def test_after_a_message_from_the_phone_the_bot_does_not_answer_the_participant(phone, drain, fake_gateway):
    participant_says("oi")
    drain(CUSTOMER)
    assert len(fake_gateway.delivered()) == 1, "the bot answers while nobody took over"

    phone(phone_event("Oi! Eu mesma te respondo por aqui.", id="3EB0PHONE0100"))
    participant_says("ah, obrigado! qual o horário do credenciamento?")
    drain(CUSTOMER)

    assert len(fake_gateway.delivered()) == 1, "no reply at the gateway while a person answers"
    assert InboundMessage.objects.filter(status="done").count() == 2
    lines = HandoffMessage.objects.order_by("id").values_list("role", "text")
    assert list(lines) == [
        ("staff", "Oi! Eu mesma te respondo por aqui."),
        ("participant", "ah, obrigado! qual o horário do credenciamento?"),
    ]


@pytest.fixture
def our_gateway(settings):
    """Our own gateway's /send-text, with WhatsApp faked behind it (it answers with ids WA1, WA2...)."""
    whatsapp = FakeWhatsApp()
    settings.GATEWAY_API_KEY = "gw-key"
    server = SendTextServer(("127.0.0.1", 0), whatsapp)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings.GATEWAY_URL = f"http://127.0.0.1:{server.port}"
    settings.GATEWAY_TIMEOUT_S = 2.0
    yield whatsapp
    server.shutdown()
    server.server_close()


def test_the_gateways_send_id_is_stored_and_its_echo_is_not_a_person(phone, drain, our_gateway):
    participant_says("oi")
    drain(CUSTOMER)
    reply = OutboundMessage.objects.get()
    assert (reply.status, reply.provider_message_id) == ("sent", "WA1"), "the id neonize gave the send is kept"

    phone(phone_event("o texto como o celular mostrou", id="WA1"))  # whatsmeow handing our own send back
    assert not Handoff.objects.exists()
    assert not ConversationState.objects.get(conversation_id=CUSTOMER).handoff_open


# --- the Cloud API: smb_message_echoes ----------------------------------------------------------------


def echo(kind: str = "text", *, to: str = CLOUD_WA_ID, wamid: str | None = None, timestamp: int | None = None,
         **content) -> dict:
    """One ``message_echoes[]`` item as Meta documents it (smb_message_echoes
    webhook reference): text takes ``body=``, other types their object."""
    item = {"from": "556130000000", "to": to, "id": wamid or new_wamid(),
            "timestamp": str(timestamp or int(time.time())), "type": kind}
    item[kind] = {"body": content.get("body", "Oi, aqui é a Marta da organização.")} if kind == "text" else content
    return item


def echoes_body(*items, phone_number_id: str | None = None, echoes=None) -> dict:
    from congress.testing.fake_graph import PHONE_NUMBER_ID

    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "556130000000", "phone_number_id": phone_number_id or PHONE_NUMBER_ID},
             "message_echoes": list(items) if echoes is None else echoes}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "smb_message_echoes"}]}]}


@pytest.fixture
def webhook(client, fake_graph, settings, django_capture_on_commit_callbacks):
    """POST a body to /whatsapp/cloud, signed unless ``headers`` says otherwise."""
    ConversationState.objects.create(conversation_id=CLOUD_WA_ID, turns=1)  # the customer talked to the bot

    def webhook(body: dict, *, headers: dict | None = None):
        raw, signature = signed(body, settings.WA_CLOUD_APP_SECRET)
        with django_capture_on_commit_callbacks():
            return client.post("/whatsapp/cloud", raw, content_type="application/json",
                               **(signature if headers is None else headers))

    return webhook


def test_an_echo_from_the_business_app_opens_a_handoff_recorded_as_staff(webhook):
    item = echo(body="Oi Ana! Sua inscrição está confirmada, te espero lá.")
    response = webhook(echoes_body(item))
    assert response.status_code == 200
    handoff = open_handoff(CLOUD_WA_ID)
    assert handoff is not None and handoff.reason == Handoff.Reason.PHONE
    assert ConversationState.objects.get(conversation_id=CLOUD_WA_ID).handoff_open
    assert staff_lines(CLOUD_WA_ID) == [("Oi Ana! Sua inscrição está confirmada, te espero lá.", item["id"])]


def test_the_same_echo_delivered_twice_is_recorded_once(webhook):
    item = echo()
    assert webhook(echoes_body(item)).status_code == 200
    assert webhook(echoes_body(item)).status_code == 200
    assert len(staff_lines(CLOUD_WA_ID)) == 1


@pytest.mark.parametrize("headers", [{}, {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + "0" * 64}], ids=["unsigned", "wrong-signature"])
def test_an_unsigned_echo_is_refused_and_nothing_is_stored(webhook, headers):
    response = webhook(echoes_body(echo()), headers=headers)
    assert response.status_code in (401, 403)
    assert not ConversationState.objects.exclude(conversation_id__in=[CUSTOMER, CLOUD_WA_ID]).exists()
    assert not Handoff.objects.exists()


@pytest.mark.parametrize(
    "echoes",
    [
        ["not an object"],
        [{"to": CLOUD_WA_ID, "type": "text", "text": {"body": "sem id"}}],
        [{"id": "wamid.X1", "type": "text", "text": {"body": "sem destino"}}],
        [{"id": "wamid.X2", "to": "ana@example.com", "type": "text", "text": {"body": "x"}}],
        [{"id": "wamid.X3", "to": CLOUD_WA_ID, "type": "text", "text": {}}],
        [{"id": "wamid.X4", "to": CLOUD_WA_ID, "type": "text", "text": "não é objeto"}],
        [{"id": "wamid.X5", "to": CLOUD_WA_ID}],
        [{"id": ["wamid.X6"], "to": CLOUD_WA_ID, "type": "text", "text": {"body": "x"}}],
        "not a list",
    ],
    ids=["not-an-object", "no-id", "no-to", "to-not-a-number", "text-without-body", "text-not-an-object", "no-type",
         "id-not-a-string", "echoes-not-a-list"],
)
def test_a_malformed_echo_is_answered_200_and_nothing_is_stored(webhook, echoes):
    response = webhook(echoes_body(echoes=echoes))
    assert response.status_code == 200
    assert not ConversationState.objects.exclude(conversation_id__in=[CUSTOMER, CLOUD_WA_ID]).exists()
    assert not HandoffMessage.objects.exists()


def test_a_malformed_echo_does_not_cost_the_good_one_beside_it(webhook):
    good = echo(body="essa vale")
    assert webhook(echoes_body(echoes=[{"id": "wamid.BAD"}, good])).status_code == 200
    assert staff_lines(CLOUD_WA_ID) == [("essa vale", good["id"])]


@pytest.mark.parametrize(
    ("item", "line"),
    [
        (echo("image", mime_type="image/jpeg", id="m1"), "[imagem]"),
        (echo("image", mime_type="image/jpeg", id="m1", caption="o mapa do evento"), "[imagem] o mapa do evento"),
        (echo("audio", mime_type="audio/ogg", id="m2"), "[áudio]"),
        (echo("document", filename="programa.pdf", id="m3"), "[documento]"),
        (echo("sticker", id="m4"), "[figurinha]"),
        (echo("order", catalog_id="c1"), "[mensagem do tipo order]"),
    ],
    ids=["image", "image-with-caption", "audio", "document", "sticker", "other-type"],
)
def test_an_echo_that_is_not_text_is_recorded_with_a_placeholder(webhook, item, line):
    webhook(echoes_body(item))
    assert staff_lines(CLOUD_WA_ID) == [(line, item["id"])]


def test_a_reaction_from_the_business_app_does_not_open_a_handoff(webhook):
    webhook(echoes_body(echo("reaction", message_id="wamid.customer", emoji="👍")))
    assert not Handoff.objects.exists()


def test_an_echo_of_another_number_of_the_app_is_ignored(webhook):
    webhook(echoes_body(echo(), phone_number_id="999999999999999"))
    assert not Handoff.objects.exists()


def test_an_echo_older_than_the_idle_window_is_ignored(webhook, settings):
    settings.HANDOFF_IDLE_HOURS = 24
    webhook(echoes_body(echo(timestamp=int(time.time()) - 3 * 24 * 3600)))  # a redelivery days later
    assert not Handoff.objects.exists()


def test_an_echo_with_an_id_of_our_own_send_is_ignored(webhook):
    wamid = new_wamid()
    OutboundMessage.objects.create(chat_id=CLOUD_WA_ID, number=CLOUD_WA_ID, text="x", channel="cloud",
                                   status=OutboundMessage.Status.SENT, provider_message_id=wamid)
    webhook(echoes_body(echo(wamid=wamid)))
    assert not Handoff.objects.exists()


def test_an_echo_to_the_number_with_the_ninth_digit_reaches_the_wa_id_without_it(webhook):
    wa_id = "556188880000"  # how WhatsApp knows an older Brazilian mobile
    ConversationState.objects.filter(conversation_id=CLOUD_WA_ID).delete()
    ConversationState.objects.create(conversation_id=wa_id, turns=1)
    webhook(echoes_body(echo(to="+5561988880000")))  # as the business typed it
    assert open_handoff(wa_id) is not None
    assert not ConversationState.objects.filter(conversation_id="5561988880000").exists()


def test_after_an_echo_the_bot_does_not_answer_the_customer(webhook, drain, fake_graph):
    webhook(cloud_body(messages=[cloud_message(body="oi")]))
    drain(CLOUD_WA_ID)
    assert len(fake_graph.sent()) == 1, "the bot answers while nobody took over"

    webhook(echoes_body(echo(body="Oi! Pode deixar que eu te respondo.")))
    webhook(cloud_body(messages=[cloud_message(body="obrigado! até que horas é o credenciamento?")]))
    drain(CLOUD_WA_ID)

    assert len(fake_graph.sent()) == 1, "no reply at the Graph API while a person answers"
    lines = HandoffMessage.objects.order_by("id").values_list("role", "text")
    assert list(lines) == [
        ("staff", "Oi! Pode deixar que eu te respondo."),
        ("participant", "obrigado! até que horas é o credenciamento?"),
    ]
