"""When Meta refuses the Cloud API account itself (an expired token, a missing
permission, a locked or blocked business account), every reply would fail
the same way: the reply is held instead, organizers get a channel alert
saying what to do, further replies wait without calling Meta, and the
account working again (a probe that goes through, or an organizer) ends it.

Against the local fake Graph API, through ``outbound_send`` as the worker
calls it."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache
from prometheus_client import REGISTRY

from congress.testing.fake_graph import GraphFailure
from whatsapp import services
from whatsapp.alerts import alert_action, channel_alert_raise, channel_alert_resolve
from whatsapp.channels import cloud
from whatsapp.models import ChannelAlert, InboundMessage, MessageEvent, OutboundMessage
from whatsapp.tests.conftest import CLOUD_WA_ID, new_wamid

pytestmark = pytest.mark.django_db

TOKEN_EXPIRED = GraphFailure(401, 190, "Error validating access token: Session has expired", subcode=463)
ACCOUNT_FAILURES = [
    pytest.param(TOKEN_EXPIRED, "cloud_token", id="190-token-expired"),
    pytest.param(GraphFailure(403, 10, "(#10) Application does not have permission for this action"), "cloud_permission",
                 id="10-permission"),
    pytest.param(GraphFailure(403, 200, "(#200) Permissions error"), "cloud_permission", id="200-permission"),
    pytest.param(GraphFailure(403, 131005, "(#131005) Access denied"), "cloud_permission", id="131005-access-denied"),
    pytest.param(GraphFailure(403, 131031, "(#131031) Business Account locked"), "cloud_account", id="131031-locked"),
    pytest.param(GraphFailure(403, 368, "Temporarily blocked for policies violations"), "cloud_account", id="368-blocked"),
]


def reply(text: str = "Olá!") -> OutboundMessage:
    inbound = InboundMessage.objects.create(message_id=new_wamid(), channel="cloud", chat_id=CLOUD_WA_ID, number=CLOUD_WA_ID,
                                            text="oi", status="done")
    return OutboundMessage.objects.create(inbound=inbound, channel="cloud", chat_id=CLOUD_WA_ID, number=CLOUD_WA_ID, text=text)


def send(outbound: OutboundMessage) -> OutboundMessage:
    assert services.outbound_send(outbound=outbound) is None
    outbound.refresh_from_db()
    return outbound


def open_alerts() -> list[tuple[str, str]]:
    return list(ChannelAlert.objects.filter(resolved_at__isnull=True).values_list("channel", "kind"))


def alerts_counted(kind: str) -> float:
    return REGISTRY.get_sample_value("whatsapp_channel_alerts_total", {"channel": "cloud", "kind": kind}) or 0.0


@pytest.mark.parametrize(("failure", "kind"), ACCOUNT_FAILURES)
def test_an_account_error_holds_the_reply_and_raises_a_cloud_alert(fake_graph, failure, kind, caplog):
    counted = alerts_counted(kind)
    fake_graph.fail_next(failure)
    with caplog.at_level(logging.ERROR, logger="whatsapp.alerts"):
        outbound = send(reply())
    assert outbound.status == "held", "held for 'Enviar de novo', not failed"
    assert f"code {failure.code}" in outbound.last_error
    assert MessageEvent.objects.get(outbound=outbound).kind == "held"
    assert open_alerts() == [("cloud", kind)]
    assert f"code {failure.code}" in ChannelAlert.objects.get().detail
    assert alerts_counted(kind) == counted + 1
    assert any("whatsapp.channel_alert channel=cloud" in record.message for record in caplog.records)


def test_the_expired_token_alert_tells_organizers_to_put_in_a_new_permanent_token():
    action = alert_action("cloud_token")
    assert "expirou ou foi revogado" in action and "WA_CLOUD_ACCESS_TOKEN" in action
    assert all(alert_action(kind) for kind in ("cloud_token", "cloud_permission", "cloud_account"))


@pytest.mark.parametrize(
    "failure",
    [GraphFailure.invalid_parameter(), GraphFailure(400, 131026, "Message undeliverable")],
    ids=["100-invalid-parameter", "131026-undeliverable"],
)
def test_an_error_about_one_message_fails_it_and_raises_no_alert(fake_graph, failure):
    outbound = send(reply())
    fake_graph.fail_next(failure)
    outbound = send(reply())
    assert outbound.status == "failed"
    assert open_alerts() == []


def test_a_closed_window_is_not_an_account_problem(fake_graph):
    fake_graph.fail_next(GraphFailure.window_closed())
    assert send(reply()).status == "held"
    assert open_alerts() == []


def test_while_the_alert_is_open_replies_are_held_without_calling_meta(fake_graph):
    fake_graph.fail_next(TOKEN_EXPIRED)
    send(reply("primeira"))
    calls = len(fake_graph.of_kind("send", status=None))
    second, third = send(reply("segunda")), send(reply("terceira"))
    assert (second.status, third.status) == ("held", "held")
    assert len(fake_graph.of_kind("send", status=None)) == calls, "Meta is not called while the alert is open"
    assert "alerta" in second.last_error
    assert ChannelAlert.objects.count() == 1


def test_the_same_account_error_again_refreshes_the_open_alert_instead_of_adding_one(fake_graph):
    fake_graph.fail_next(TOKEN_EXPIRED)
    send(reply())
    cache.delete(cloud._PROBE_KEY)  # the next probe is due
    fake_graph.fail_next(GraphFailure(401, 190, "Error validating access token: The user has not authorized application"))
    send(reply())
    alert = ChannelAlert.objects.get()
    assert alert.resolved_at is None and "not authorized application" in alert.detail


def test_a_probe_that_goes_through_resolves_the_alert_and_replies_flow_again(fake_graph):
    fake_graph.fail_next(TOKEN_EXPIRED)
    held = send(reply("retida"))
    cache.delete(cloud._PROBE_KEY)  # a minute later
    probe = send(reply("sonda"))
    assert probe.status == "sent" and probe.provider_message_id
    assert open_alerts() == []
    assert send(reply("depois")).status == "sent"
    assert services.outbound_retry(outbound_ids=[held.pk], actor="organizer") == 1
    assert send(OutboundMessage.objects.get(pk=held.pk)).status == "sent", "'Enviar de novo' sends the held reply"


def test_after_an_organizer_resolves_the_alert_enviar_de_novo_sends_the_held_reply(fake_graph):
    fake_graph.fail_next(TOKEN_EXPIRED)
    held = send(reply("retida"))
    assert channel_alert_resolve(channel="cloud", actor="organizer") == 1
    services.outbound_retry(outbound_ids=[held.pk], actor="organizer")
    assert send(OutboundMessage.objects.get(pk=held.pk)).status == "sent"
    assert [request.text for request in fake_graph.sent()] == ["retida"]


def test_a_gateway_alert_does_not_hold_cloud_replies(fake_graph):
    channel_alert_raise(kind="logged_out")
    assert send(reply()).status == "sent"
    assert ChannelAlert.objects.filter(resolved_at__isnull=True).count() == 1, "the gateway's alert stays open"


def test_checking_for_an_open_alert_costs_one_query_per_reply(fake_graph, django_assert_num_queries):
    outbound = reply()
    # the alert check, the 24-hour window, marking it sent (one statement on PostgreSQL)
    with django_assert_num_queries(3):
        services.outbound_send(outbound=outbound)
