"""The mail server refusing the confirmation e-mails for a while, then
recovering: each participant ends with exactly one e-mail, marked sent."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from congress.testing.fake_smtp import FakeSMTP
from congress.testing.procs import wait_until
from registrations.models import Participant
from tests.resilience.harness import (
    DEADLINE_S,
    GatewayLoad,
    assert_guarantees,
    chat_number,
    registration_script,
    take_ledger,
    wait_for_pipeline,
)

pytestmark = [pytest.mark.resilience]

CHATS = 3
# The task's backoff is 30 s x 2^n with full jitter: too slow for a test.
# The same policy in seconds (1 s x 2^n, capped at 4 s), with a retry budget
# (30) that outlasts the slowest registration of the run on a loaded machine:
# with 5 retries of at most 1, 2, 4, 8, 16 s, the first participant's e-mail
# could give up before the last participant had registered (a flake under
# load, not a product behaviour).
FAST_EMAIL_RETRIES = {
    "registrations.tasks.EMAIL_BACKOFF_FACTOR_S": 1,
    "registrations.tasks.EMAIL_BACKOFF_MAX_S": 4,
    "registrations.tasks.send_confirmation_email.max_retries": 30,
}


@pytest.fixture
def smtp():
    server = FakeSMTP().start()
    yield server
    server.stop()


_FAILED = re.compile(r"Confirmation e-mail for participant (\d+) failed .*; retry \d+ in")


def email_failures(worker) -> Counter[str]:
    """Failed attempts per participant id, from the worker's log."""
    return Counter(match.group(1) for match in _FAILED.finditer(worker.log()))


def emails_sent() -> int:
    from django.db import connection

    connection.close()  # read what the worker committed
    return Participant.objects.filter(confirmation_email_status=Participant.EmailStatus.SENT).count()


@pytest.mark.parametrize(
    "refusal", ["down", "busy", "defer"], ids=["connection-refused", "421-at-greeting", "451-to-rcpt"]
)
def test_confirmation_emails_are_sent_exactly_once_after_the_mail_server_recovers(make_stack, smtp, refusal):
    stack = make_stack(EMAIL_URL=smtp.email_url)
    stack.start_web()
    worker = stack.start_worker(patches=FAST_EMAIL_RETRIES)
    smtp.set_mode(refusal)
    load = GatewayLoad(stack.web.url)
    scripts = {chat_number(n, base=600): registration_script(n) for n in range(CHATS)}
    expected = sum(len(texts) for texts in scripts.values())

    load.run(scripts)
    assert wait_for_pipeline(expected, stack.gateway), "the pipeline did not settle"
    # Every participant's e-mail refused at least once (of up to 31 attempts), then
    # the server recovers.
    assert wait_until(lambda: len(email_failures(worker)) == CHATS, timeout=DEADLINE_S, interval=0.05)
    smtp.set_mode("accept")
    failures = sum(email_failures(worker).values())
    assert wait_until(lambda: emails_sent() == CHATS, timeout=DEADLINE_S, interval=0.2)
    wait_for_pipeline(expected, stack.gateway)  # a few sweeps more for a stray second send

    per_address = [len(smtp.messages_to(f"resiliente{n}@example.com")) for n in range(CHATS)]
    ledger = take_ledger(
        f"smtp-{refusal}",
        load=load,
        gateway=stack.gateway,
        registrations=scripts,
        extra={
            "email_failures": failures,
            "smtp_refusals_seen": smtp.refused,
            "emails_received": len(smtp.messages),
            "emails_marked_sent": emails_sent(),
        },
    )
    assert_guarantees(ledger, max_repeats=0)
    assert per_address == [1] * CHATS, "exactly one confirmation e-mail per participant"
