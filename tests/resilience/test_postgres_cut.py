"""PostgreSQL unreachable for 30 s under load: a TCP proxy between the
children and the shared server resets every connection and refuses new ones,
then lets them through again. The gateway's POSTs are refused with 503 (and
retried) while it is out; everything accepted is answered once it is back."""

from __future__ import annotations

import time

import pytest

from congress.testing.tcp_proxy import TcpProxy
from tests.resilience.harness import (
    GatewayLoad,
    assert_guarantees,
    chat_number,
    database_address,
    database_url_through,
    registration_script,
    take_ledger,
    wait_for_pipeline,
)

pytestmark = [pytest.mark.resilience]

CHATS = 8
QUESTIONS = 2
CUT_S = 30
CONCURRENCY = 2


@pytest.fixture
def pg_proxy(transactional_db):
    proxy = TcpProxy(database_address()).start()
    yield proxy
    proxy.stop()


def test_postgres_connections_cut_for_thirty_seconds_under_load_lose_nothing(make_stack, pg_proxy):
    stack = make_stack(database_url=database_url_through(pg_proxy.port))
    stack.start_web()
    stack.start_worker(concurrency=CONCURRENCY)
    load = GatewayLoad(stack.web.url)
    scripts = {chat_number(n, base=300): registration_script(n, questions=QUESTIONS) for n in range(CHATS)}
    expected = sum(len(texts) for texts in scripts.values())
    gap_s = (CUT_S + 10) / len(next(iter(scripts.values())))

    sender = load.start(scripts, gap_s=gap_s)
    time.sleep(3)
    severed = pg_proxy.cut()
    refused_before = load.refused
    time.sleep(CUT_S)
    refused_during = load.refused - refused_before
    pg_proxy.restore()
    sender.join()

    assert wait_for_pipeline(expected, stack.gateway), "the pipeline did not settle"
    ledger = take_ledger(
        "postgres-cut-30s",
        load=load,
        gateway=stack.gateway,
        registrations=scripts,
        extra={"connections_reset": severed, "refused_during_cut": refused_during, "cut_s": CUT_S},
    )
    assert refused_during > 0, "the gateway's POSTs must be refused while PostgreSQL is out"
    assert set(load.statuses) <= {"200", "202", "503"}, f"only 503 while out, never a 500: {load.statuses}"
    assert_guarantees(ledger, max_repeats=CONCURRENCY)
