"""Fixtures of the resilience suite (see harness.py for the pieces)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.resilience.harness import Stack, build_stack


@pytest.fixture
def demo_event(transactional_db):
    """The demo event (profiles, FAQ), committed so the child processes see it.

    Its ticket categories are switched off: this suite checks the pipeline's
    guarantees (registrations confirm at once and send their e-mail, as on a
    free event); paid registration is tested in payments/tests."""
    from chatbot.models import TicketCategory

    call_command("load_demo_event", verbosity=0)
    TicketCategory.objects.update(active=False)


@pytest.fixture
def make_stack(transactional_db, demo_event):
    """``make_stack(**env)``: a private Redis, the fake gateway, and (once the
    test starts them) gunicorn and Celery workers; all stopped afterwards."""
    stacks: list[Stack] = []

    def make(**kwargs) -> Stack:
        stack = build_stack(**kwargs)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()
