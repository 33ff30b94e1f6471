"""The pipeline on the embedded default (SQLite, eager Celery, no Redis).

The rest of the suite runs on PostgreSQL, where the drain claims and answers
a message in single statements; SQLite takes the ORM path of the same
services. This runs that path in a fresh interpreter on a scratch SQLite file.
"""

from __future__ import annotations

import json

from congress.tests.test_health import run_django

SCRIPT = """
import json
from django.core.management import call_command
call_command('migrate', verbosity=0)
call_command('load_demo_event', verbosity=0)
from whatsapp import services
from whatsapp.models import InboundMessage, OutboundMessage
from chatbot.models import ConversationState
from congress.locks import LockKeeper, try_conversation_lock

chat = '5561999990001'
# Eager Celery drains at once after each accept.
services.message_accept(message_id='m1', number=chat, text='oi')
services.message_accept(message_id='m2', number=chat, text='1')
dup = services.message_accept(message_id='m2', number=chat, text='1')
# Two messages queued before one drain: answered in order by one drain.
real_enqueue = services.enqueue_drain
services.enqueue_drain = lambda *a, **k: True
services.message_accept(message_id='m3', number=chat, text='menu')
services.message_accept(message_id='m4', number=chat, text='qual o endereço do evento?')
services.enqueue_drain = real_enqueue
services.chat_drain(chat_id=chat, deliver=True)
# A message already answered is not answered again by a late holder.
done = InboundMessage.objects.get(message_id='m1')
done.status = 'pending'  # the late holder's stale copy
late = services.inbound_process(inbound=done, keeper=LockKeeper(try_conversation_lock(chat)))
print(json.dumps({
    'duplicate': dup.status,
    'inbound': list(InboundMessage.objects.order_by('id').values_list('message_id', 'status', 'attempts')),
    'outbound': list(OutboundMessage.objects.order_by('id').values_list('inbound__message_id', 'status')),
    'events': list(InboundMessage.objects.get(message_id='m4').events.order_by('id').values_list('kind', flat=True)),
    'turns': ConversationState.objects.get(conversation_id=chat).turns,
    'late': late[0].value,
}))
"""


def test_the_embedded_default_drains_in_order_with_one_reply_each(tmp_path):
    result = run_django(SCRIPT, DATABASE_URL=f"sqlite:///{tmp_path / 'embedded.sqlite3'}")
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["duplicate"] == "duplicate"
    assert out["inbound"] == [["m1", "done", 1], ["m2", "done", 1], ["m3", "done", 1], ["m4", "done", 1]]
    # No GATEWAY_URL on the embedded default: replies are logged, in order, one per message.
    assert out["outbound"] == [["m1", "logged"], ["m2", "logged"], ["m3", "logged"], ["m4", "logged"]]
    assert out["events"] == ["accepted", "processed"]
    assert out["turns"] == 4
    assert out["late"] == "done"
