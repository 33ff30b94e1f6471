"""Interactive menus on the Cloud API: the choices a reply offers go out as
reply buttons or a list (within Meta's limits, else as the plain text), a tap
comes back as the answer typed; the gateway channel sends the same numbered
text as before, with no interactive payload.

Signed webhooks through Django's test client, the drain called in-process,
the local fake Graph API and fake gateway (see test_cloud_pipeline.py).
"""

from __future__ import annotations

import time

import pytest

from chatbot.models import ConversationState
from congress.testing.factories import make_event, make_profile
from registrations.models import Participant
from whatsapp.channels import cloud
from whatsapp.models import MessageEvent, MessageTemplate, OutboundMessage
from whatsapp.services import RetryLater, chat_drain, message_accept
from whatsapp.tests.conftest import CLOUD_WA_ID, cloud_body, cloud_message, new_message_id, signed

pytestmark = pytest.mark.django_db

GATEWAY_NUMBER = "5561977770000"
PROFILES = ("Produtor rural", "Pesquisador(a)/Professor(a)", "Estudante")
BUTTONS = {"kind": "buttons", "options": [{"id": "sim", "title": "Sim, concordo", "description": ""},
                                          {"id": "não", "title": "Não concordo", "description": ""}]}
LIST = {"kind": "list", "button": "Ver perfis", "options": [
    {"id": "1", "title": "Produtor rural", "description": ""},
    {"id": "2", "title": "Pesquisador/Professor", "description": "Pesquisador(a)/Professor(a)"},
]}


@pytest.fixture(autouse=True)
def no_debounce(settings):
    settings.WA_DEBOUNCE_MS = 0  # each message its own turn, as these tests assume


@pytest.fixture
def event(db):
    event = make_event(registration_open=True)
    for order, name in enumerate(PROFILES, start=1):
        make_profile(event, name, order=order)
    return event


@pytest.fixture
def webhook(client, fake_graph, settings, django_capture_on_commit_callbacks):
    def webhook(*messages: dict) -> None:
        raw, headers = signed(cloud_body(messages=list(messages)), settings.WA_CLOUD_APP_SECRET)
        with django_capture_on_commit_callbacks():
            response = client.post("/whatsapp/cloud", raw, content_type="application/json", **headers)
        assert response.status_code == 200, response.content

    return webhook


@pytest.fixture
def drain(django_capture_on_commit_callbacks):
    def drain(chat: str = CLOUD_WA_ID) -> None:
        with django_capture_on_commit_callbacks():
            try:
                chat_drain(chat_id=chat, deliver=True)
            except RetryLater as exc:  # pragma: no cover - a failure here is the test's failure
                pytest.fail(f"the drain asked to retry: {exc}")

    return drain


def step(chat: str = CLOUD_WA_ID) -> str:
    return ConversationState.objects.get(conversation_id=chat).registration_step


def interactive_of(request) -> dict:
    assert request.type == "interactive", request.json
    return request.json["interactive"]


def option_ids(interactive: dict) -> list[str]:
    if interactive["type"] == "button":
        return [button["reply"]["id"] for button in interactive["action"]["buttons"]]
    return [row["id"] for section in interactive["action"]["sections"] for row in section["rows"]]


# --- the payload ---------------------------------------------------------------------


def test_buttons_go_out_as_reply_buttons_whose_ids_carry_the_answer():
    payload = cloud.interactive_payload(CLOUD_WA_ID, "Você concorda? Responda *sim* ou *não*.", BUTTONS)
    assert payload == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": CLOUD_WA_ID, "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Você concorda? Responda *sim* ou *não*."},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "answer:sim", "title": "Sim, concordo"}},
                                   {"type": "reply", "reply": {"id": "answer:não", "title": "Não concordo"}}]},
        },
    }


def test_a_list_goes_out_with_its_button_label_and_rows():
    payload = cloud.interactive_payload(CLOUD_WA_ID, "Qual é o seu perfil?\n1. Produtor rural", LIST)
    interactive = payload["interactive"]
    assert interactive["type"] == "list" and interactive["body"] == {"text": "Qual é o seu perfil?\n1. Produtor rural"}
    assert interactive["action"]["button"] == "Ver perfis"
    (section,) = interactive["action"]["sections"]
    assert section["rows"] == [
        {"id": "answer:1", "title": "Produtor rural"},
        {"id": "answer:2", "title": "Pesquisador/Professor", "description": "Pesquisador(a)/Professor(a)"},
    ]


def _with(base: dict, **changes) -> dict:
    return {**base, **changes}


@pytest.mark.parametrize(
    ("text", "interactive"),
    [
        ("x" * 1025, BUTTONS),
        ("menu", None),
        ("menu", {"kind": "carousel", "options": BUTTONS["options"]}),
        ("menu", _with(BUTTONS, options=[*BUTTONS["options"], {"id": "3", "title": "C"}, {"id": "4", "title": "D"}])),
        ("menu", _with(BUTTONS, options=[{"id": "sim", "title": "Sim, eu concordo com tudo"}])),
        ("menu", _with(BUTTONS, options=[{"id": "sim", "title": "Sim"}, {"id": "s", "title": "Sim"}])),
        ("menu", _with(LIST, options=[{"id": str(n), "title": f"Opção {n}"} for n in range(11)])),
        ("menu", _with(LIST, options=[{"id": "1", "title": "Um título de linha longo demais"}])),
        ("menu", _with(LIST, options=[{"id": "1", "title": "Um", "description": "d" * 73}])),
        ("menu", _with(LIST, button="Um rótulo de botão longo")),
        ("menu", _with(LIST, options=[{"id": "", "title": "Sem resposta"}])),
        ("menu", _with(LIST, options=[{"id": "1", "title": "Um"}, {"id": "1", "title": "Outro um"}])),
    ],
    ids=["body-over-1024", "no-choices", "unknown-kind", "four-buttons", "long-button-title", "same-button-titles",
         "eleven-rows", "long-row-title", "long-description", "long-list-button", "no-answer", "same-answer"],
)
def test_choices_beyond_metas_limits_fall_back_to_the_text(text, interactive):
    assert cloud.interactive_payload(CLOUD_WA_ID, text, interactive) is None
    outbound = OutboundMessage(pk=1, text=text, interactive=interactive)
    assert cloud.reply_payload(CLOUD_WA_ID, outbound) == cloud.text_payload(CLOUD_WA_ID, text)


def test_a_tap_comes_back_as_the_answer_its_id_carries():
    for kind in ("button_reply", "list_reply"):
        message = cloud_message(kind, reply_id="answer:não", title="Não concordo")
        assert cloud.inbound_content(message) == ("não", "", "")


# --- a registration on the Cloud API -----------------------------------------------------------


def test_a_registration_on_the_cloud_api_by_buttons_and_a_list(event, webhook, drain, fake_graph):
    webhook(cloud_message(body="quero me inscrever"))
    drain()
    consent = fake_graph.sent()[-1]
    interactive = interactive_of(consent)
    assert interactive["type"] == "button" and option_ids(interactive) == ["answer:sim", "answer:não"]
    reply = OutboundMessage.objects.get(provider_message_id=consent.wamid)
    assert interactive["body"]["text"] == reply.text and reply.text.endswith("Responda *sim* ou *não*.")
    assert reply.interactive["kind"] == "buttons"
    assert MessageEvent.objects.get(outbound=reply, kind="sent").detail == "interactive button"

    webhook(cloud_message("button_reply", reply_id="answer:sim", title="Sim, concordo"))
    drain()
    assert step() == "asking_name"
    assert fake_graph.sent()[-1].type == "text", "a question answered by typing goes out as text"

    for text in ("Maria Souza", "maria.souza@gmail.com", "123.456.789-09", "(62) 98111-2233", "Goiânia"):
        webhook(cloud_message(body=text))
        drain()
    assert step() == "asking_profile"
    profiles = interactive_of(fake_graph.sent()[-1])
    assert profiles["type"] == "list" and profiles["action"]["button"] == "Ver perfis"
    rows = profiles["action"]["sections"][0]["rows"]
    assert [row["id"] for row in rows] == ["answer:1", "answer:2", "answer:3"]
    assert all(len(row["title"]) <= 24 for row in rows)
    assert "1. Produtor rural" in profiles["body"]["text"], "the numbered text stays in the body"

    webhook(cloud_message("list_reply", reply_id=rows[1]["id"], title=rows[1]["title"]))
    drain()
    state = ConversationState.objects.get(conversation_id=CLOUD_WA_ID)
    assert (state.registration_step, state.data["fields"]["profile_name"]) == ("confirming", "Pesquisador(a)/Professor(a)")
    summary = interactive_of(fake_graph.sent()[-1])
    assert summary["type"] == "button" and option_ids(summary) == ["answer:sim", "answer:não"]

    webhook(cloud_message("button_reply", reply_id="answer:sim", title="Confirmar"))
    drain()
    assert step() == "completed"
    participant = Participant.objects.get()
    assert (participant.full_name, participant.profile.name) == ("Maria Souza", "Pesquisador(a)/Professor(a)")


def test_the_same_conversation_on_the_gateway_sends_plain_numbered_text(event, drain, fake_gateway):
    texts = ("quero me inscrever", "sim", "Maria Souza", "maria.souza@gmail.com", "123.456.789-09", "(62) 98111-2233",
             "Goiânia", "2", "sim")
    for text in texts:
        message_accept(message_id=new_message_id(), number=GATEWAY_NUMBER, text=text)
        drain(GATEWAY_NUMBER)
    assert step(GATEWAY_NUMBER) == "completed"
    delivered = fake_gateway.delivered()
    assert len(delivered) == len(texts)
    assert all(set(request.body) == {"number", "jid", "text"} for request in delivered), "no interactive payload"
    assert delivered[0].text.endswith("Responda *sim* ou *não*.")
    assert "1. Produtor rural\n2. Pesquisador(a)/Professor(a)\n3. Estudante" in delivered[6].text
    assert Participant.objects.get().profile.name == "Pesquisador(a)/Professor(a)"


def test_the_cloud_body_is_the_gateways_text_word_for_word(event, webhook, drain, fake_graph, fake_gateway):
    webhook(cloud_message(body="quero me inscrever"))
    drain()
    message_accept(message_id=new_message_id(), number=GATEWAY_NUMBER, text="quero me inscrever")
    drain(GATEWAY_NUMBER)
    (gateway,) = fake_gateway.delivered()
    assert interactive_of(fake_graph.sent()[-1])["body"]["text"] == gateway.text


def test_a_reply_too_long_for_an_interactive_body_goes_out_as_text(db, webhook, drain, fake_graph):
    event = make_event(registration_open=True, privacy_notice="Aviso de privacidade. " * 60)
    make_profile(event, "Produtor rural")
    webhook(cloud_message(body="quero me inscrever"))
    drain()
    sent = fake_graph.sent()[-1]
    reply = OutboundMessage.objects.get(provider_message_id=sent.wamid)
    assert len(reply.text) > cloud.INTERACTIVE_BODY_MAX_CHARS and reply.interactive is not None
    assert sent.type == "text" and sent.text == reply.text


def test_outside_the_window_a_reply_with_choices_goes_out_as_the_template(event, webhook, drain, fake_graph):
    MessageTemplate.objects.create(name="aviso_congresso", language="pt_BR", active=True)
    webhook(cloud_message(body="quero me inscrever", timestamp=int(time.time()) - 2 * 24 * 3600))
    drain()
    (sent,) = fake_graph.sent()
    assert sent.type == "template"
    assert OutboundMessage.objects.get().interactive is not None


# --- with a real Celery worker --------------------------------------------------------------


@pytest.mark.resilience
@pytest.mark.django_db(transaction=True)
def test_through_a_celery_worker_a_button_tap_and_a_list_choice_advance_the_registration(fake_graph, fake_openai, settings):
    from django.db import connections
    from django.test import Client

    from congress.testing.procs import child_env, database_url_for_children, start_celery_worker

    event = make_event(registration_open=True)
    for order, name in enumerate(PROFILES, start=1):
        make_profile(event, name, order=order)
    env = child_env(
        database_url=database_url_for_children(), redis_url=settings.REDIS_URL, GATEWAY_URL="", BOT_API_KEY="",
        OPENAI_API_KEY="", OPENAI_BASE_URL=fake_openai.base_url, WA_CLOUD_API_URL=fake_graph.base_url,
        WA_CLOUD_ACCESS_TOKEN=fake_graph.access_token, WA_CLOUD_PHONE_NUMBER_ID=fake_graph.phone_number_id,
        WA_CLOUD_TIMEOUT_S=2, WA_DEBOUNCE_MS=0,
    )
    worker = start_celery_worker(env=env, concurrency=2)
    try:
        def post(message: dict) -> None:
            raw, headers = signed(cloud_body(messages=[message]), settings.WA_CLOUD_APP_SECRET)
            try:
                assert Client().post("/whatsapp/cloud", raw, content_type="application/json", **headers).status_code == 200
            finally:
                connections.close_all()

        script = [cloud_message(body="quero me inscrever"),
                  cloud_message("button_reply", reply_id="answer:sim", title="Sim, concordo"),
                  *(cloud_message(body=text) for text in
                    ("Maria Souza", "maria.souza@gmail.com", "123.456.789-09", "(62) 98111-2233", "Goiânia"))]
        for count, message in enumerate(script, start=1):
            post(message)
            assert fake_graph.wait_for(count, timeout=60)
        assert interactive_of(fake_graph.sent()[0])["type"] == "button"
        assert interactive_of(fake_graph.sent()[-1])["type"] == "list"
        post(cloud_message("list_reply", reply_id="answer:3", title="Estudante"))
        assert fake_graph.wait_for(len(script) + 1, timeout=60)
        state = ConversationState.objects.get(conversation_id=CLOUD_WA_ID)
        assert (state.registration_step, state.data["fields"]["profile_name"]) == ("confirming", "Estudante")
    finally:
        worker.stop(timeout=10)
