"""The Cloud API channel's Graph calls against the local fake Graph API:
what a reply looks like, which failures are worth retrying, the 24-hour
window and its templates, read receipts and voice-note downloads."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from congress.testing.fake_graph import GraphFailure
from whatsapp.channels import MediaTooLarge, ReplyHeld, cloud
from whatsapp.channels.cloud import GraphError
from whatsapp.models import InboundMessage, MessageEvent, MessageTemplate, OutboundMessage
from whatsapp.tests.conftest import CLOUD_WA_ID, new_wamid

pytestmark = pytest.mark.django_db


def inbound(*, hours_ago: float = 0.0, **fields) -> InboundMessage:
    values = {"message_id": new_wamid(), "channel": "cloud", "chat_id": CLOUD_WA_ID, "number": CLOUD_WA_ID, "text": "oi",
              "status": "done", "sent_at": timezone.now() - dt.timedelta(hours=hours_ago)}
    values.update(fields)
    return InboundMessage.objects.create(**values)


def reply(to: InboundMessage, text: str = "Olá! Como posso ajudar?") -> OutboundMessage:
    return OutboundMessage.objects.create(inbound=to, channel="cloud", chat_id=to.chat_id, number=to.number, text=text)


def template(**fields) -> MessageTemplate:
    return MessageTemplate.objects.create(**{"name": "aviso_congresso", "language": "pt_BR", "active": True, **fields})


def test_a_reply_inside_the_window_is_free_text_with_the_bearer_token(fake_graph):
    delivery = cloud.send(reply(inbound()))
    (request,) = fake_graph.sent()
    assert request.path == f"/v23.0/{fake_graph.phone_number_id}/messages"
    assert request.headers["authorization"] == f"Bearer {fake_graph.access_token}"
    assert request.json == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": CLOUD_WA_ID,
                            "type": "text", "text": {"preview_url": False, "body": "Olá! Como posso ajudar?"}}
    assert delivery.provider_message_id == request.wamid and delivery.provider_message_id.startswith("wamid.")


@pytest.mark.parametrize(
    "failure",
    [GraphFailure.rate_limited(), GraphFailure.server_error(500), GraphFailure.server_error(503),
     GraphFailure(400, 131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit")],
    ids=["429", "500", "503", "pair-rate-limit-as-400"],
)
def test_throttling_and_server_errors_are_transient(fake_graph, failure):
    fake_graph.fail_next(failure)
    with pytest.raises(GraphError) as error:
        cloud.send(reply(inbound()))
    assert error.value.transient and error.value.status == failure.status and error.value.code == failure.code


def test_a_refused_message_is_permanent_with_the_graph_error_in_its_message(fake_graph):
    fake_graph.fail_next(GraphFailure.invalid_parameter("Parameter value is not valid"))
    with pytest.raises(GraphError) as error:
        cloud.send(reply(inbound()))
    assert not error.value.transient
    assert error.value.message == "Graph API 400, code 100/2494010: (#100) Invalid parameter (Parameter value is not valid)"


def test_a_wrong_token_holds_the_reply_instead_of_failing_it(fake_graph, settings):
    settings.WA_CLOUD_ACCESS_TOKEN = "expired"
    with pytest.raises(ReplyHeld) as error:
        cloud.send(reply(inbound()))
    assert isinstance(error.value.__cause__, GraphError) and error.value.__cause__.code == 190
    assert "code 190" in error.value.message  # the alert it raised: test_cloud_alerts.py


def test_a_graph_api_that_does_not_answer_in_time_is_transient(fake_graph, settings):
    settings.WA_CLOUD_TIMEOUT_S = 0.3
    fake_graph.fail_next(GraphFailure.hang(3))
    with pytest.raises(GraphError) as error:
        cloud.send(reply(inbound()))
    assert error.value.transient and "timed out" in error.value.message


def test_a_graph_api_that_is_down_is_transient(fake_graph):
    fake_graph.stop()
    with pytest.raises(GraphError) as error:
        cloud.send(reply(inbound()))
    assert error.value.transient and error.value.status is None


# --- the 24-hour window ---------------------------------------------------------------


def test_the_window_is_open_for_24_hours_after_the_participants_last_message():
    inbound(hours_ago=30)
    assert not cloud.window_open(CLOUD_WA_ID)
    inbound(hours_ago=23)
    assert cloud.window_open(CLOUD_WA_ID)


def test_messages_on_another_channel_do_not_open_the_cloud_window():
    inbound(channel="gateway")
    assert not cloud.window_open(CLOUD_WA_ID)


def test_outside_the_window_without_a_template_the_reply_is_held(fake_graph):
    template(active=False)
    with pytest.raises(ReplyHeld):
        cloud.send(reply(inbound(hours_ago=25)))
    assert fake_graph.requests == []


def test_outside_the_window_the_active_template_carries_the_reply_as_its_parameter(fake_graph):
    template(name="aviso_congresso", language="pt_BR")
    delivery = cloud.send(reply(inbound(hours_ago=25), "Sua inscrição foi confirmada.\n\nCódigo: CBAS-7F3K2"))
    (request,) = fake_graph.sent()
    assert request.json["type"] == "template"
    assert request.json["template"] == {
        "name": "aviso_congresso",
        "language": {"code": "pt_BR"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Sua inscrição foi confirmada. · Código: CBAS-7F3K2"}]}],
    }
    assert delivery.provider_message_id == request.wamid
    assert delivery.detail == "template aviso_congresso (pt_BR)"


def test_when_meta_says_the_window_closed_the_template_goes_instead(fake_graph):
    template()
    fake_graph.fail_next(GraphFailure.window_closed())
    cloud.send(reply(inbound(hours_ago=23.5)))
    assert [r.type for r in fake_graph.sent()] == ["template"]


def test_when_meta_says_the_window_closed_and_there_is_no_template_the_reply_is_held(fake_graph):
    fake_graph.fail_next(GraphFailure.window_closed())
    with pytest.raises(ReplyHeld):
        cloud.send(reply(inbound()))


def test_only_one_template_can_be_active():
    from django.core.exceptions import ValidationError

    template(name="um")
    with pytest.raises(ValidationError, match="Já existe um modelo ativo"):
        MessageTemplate(name="dois", language="pt_BR", active=True).full_clean()


@pytest.mark.parametrize(
    ("text", "parameter"),
    [("linha 1\nlinha 2", "linha 1 · linha 2"), ("a\t\tb", "a · b"), ("muito      espaço", "muito   espaço"), ("x" * 2000, "x" * 1023 + "…")],
    ids=["newline", "tabs", "spaces", "too-long"],
)
def test_template_parameters_hold_no_line_breaks_tabs_or_long_runs_of_spaces(text, parameter):
    assert cloud.template_parameter(text) == parameter


# --- read receipts, typing, media -------------------------------------------------------


def test_processing_a_message_marks_it_read_and_shows_typing(fake_graph, settings):
    settings.WA_TYPING_INDICATOR = True
    message = inbound()
    cloud.on_processing(message)
    (request,) = fake_graph.reads()
    assert request.json == {"messaging_product": "whatsapp", "status": "read", "message_id": message.message_id,
                            "typing_indicator": {"type": "text"}}


def test_a_failing_read_receipt_is_only_logged(fake_graph):
    fake_graph.fail_next(GraphFailure.server_error(kind="read"))
    cloud.on_processing(inbound())  # no exception
    assert fake_graph.reads() == []


def test_a_voice_note_is_downloaded_with_the_token_in_two_steps(fake_graph):
    fake_graph.add_media("778899", b"OggS-voice-note-bytes", "audio/ogg; codecs=opus")
    data, mimetype = cloud.download_audio(inbound(text="", has_audio=True, media_id="778899"))
    assert (data, mimetype) == (b"OggS-voice-note-bytes", "audio/ogg; codecs=opus")
    meta, download = fake_graph.of_kind("media_meta"), fake_graph.of_kind("media_download")
    assert meta[0].path == "/v23.0/778899" and download[0].path == "/media/778899"
    assert download[0].headers["authorization"] == f"Bearer {fake_graph.access_token}"


def test_a_voice_note_larger_than_allowed_is_refused_before_downloading(fake_graph, settings):
    settings.MAX_AUDIO_BYTES = 10
    fake_graph.add_media("big", b"OggS" + b"x" * 100)
    with pytest.raises(MediaTooLarge):
        cloud.download_audio(inbound(text="", has_audio=True, media_id="big"))
    assert fake_graph.of_kind("media_download", status=None) == []


def test_an_expired_media_id_is_permanent(fake_graph):
    with pytest.raises(GraphError) as error:
        cloud.download_audio(inbound(text="", has_audio=True, media_id="gone"))
    assert not error.value.transient


def test_a_media_server_error_is_transient(fake_graph):
    fake_graph.add_media("m1", b"OggS")
    fake_graph.fail_next(GraphFailure.server_error(kind="media"))
    with pytest.raises(GraphError) as error:
        cloud.download_audio(inbound(text="", has_audio=True, media_id="m1"))
    assert error.value.transient


# --- statuses that arrive before the reply is marked sent -------------------------------------


@pytest.fixture
def status_during_send(monkeypatch):
    """Make Meta's webhook deliver ``statuses`` for a reply while its Graph
    call is still returning, i.e. before its wamid is stored."""
    from whatsapp import services

    def arrange(*statuses: tuple[str, list | None]) -> list[str]:
        results: list[str] = []
        real = cloud.post_message

        def post_then_status(payload: dict, **kwargs) -> str:
            wamid = real(payload, **kwargs)
            for status, errors in statuses:
                results.append(services.outbound_status_record(provider_message_id=wamid, status=status, errors=errors))
            return wamid

        monkeypatch.setattr(cloud, "post_message", post_then_status)
        return results

    return arrange


def sent(outbound: OutboundMessage) -> OutboundMessage:
    from whatsapp import services

    services.outbound_send(outbound=outbound)
    outbound.refresh_from_db()
    return outbound


def test_a_failed_status_that_arrives_before_the_wamid_is_stored_still_fails_the_reply(fake_graph, status_during_send):
    errors = [{"code": 131026, "title": "Message undeliverable", "error_data": {"details": "Message Undeliverable."}}]
    results = status_during_send(("sent", None), ("failed", errors))
    outbound = sent(reply(inbound()))
    assert results == ["ignored", "kept"]
    assert outbound.status == "failed"
    assert outbound.last_error == "131026 Message undeliverable: Message Undeliverable."
    assert list(MessageEvent.objects.filter(outbound=outbound).order_by("id").values_list("kind", flat=True)) == [
        "sent", "status_failed"]


def test_early_statuses_are_applied_forward_only_whatever_their_order(fake_graph, status_during_send):
    status_during_send(("read", None), ("delivered", None))
    outbound = sent(reply(inbound()))
    assert outbound.status == "read"
    assert list(MessageEvent.objects.filter(outbound=outbound).order_by("id").values_list("kind", flat=True)) == [
        "sent", "delivered", "read"]


def test_an_early_status_is_applied_once_and_then_forgotten(fake_graph, status_during_send):
    from whatsapp import services

    status_during_send(("delivered", None))
    outbound = sent(reply(inbound()))
    assert services._early_statuses_take(outbound.provider_message_id) == {}
    assert MessageEvent.objects.filter(outbound=outbound, kind="delivered").count() == 1


def test_early_statuses_are_kept_in_the_django_cache_without_redis(fake_graph, status_during_send, monkeypatch):
    from whatsapp import services

    monkeypatch.setattr(services, "redis_usable", lambda: None)
    status_during_send(("failed", []))
    outbound = sent(reply(inbound()))
    assert outbound.status == "failed" and outbound.last_error == "failed (no error given)"


def test_an_unknown_status_is_kept_for_ten_minutes_at_most(fake_graph):
    from congress.redis import get_redis
    from whatsapp import services

    assert services.outbound_status_record(provider_message_id="wamid.NOT_YET", status="delivered") == "kept"
    assert 0 < get_redis().ttl(services._early_status_key("wamid.NOT_YET")) <= 600
