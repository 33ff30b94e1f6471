"""The physical limit: only the storage work one message needs, no framework.

    python bench/physical.py [--seconds 10] [--procs 4]

Each message does, with psycopg and redis-py straight against the bench
database's real tables (same indexes, same fsync'd commits) and Redis, the
round trips the pipeline makes (whatsapp/services.py), each statement as
lean as the pipeline's own:

  accept   PG: INSERT inbound feeding INSERT event (one statement, autocommit);
           Redis: LPUSH the drain task
  process  Redis: RPOP task, SET NX PX the chat's lock;
           PG: UPDATE attempts of the oldest pending RETURNING it (autocommit);
           PG: SELECT state, UPDATE state, UPDATE inbound done feeding
               INSERT reply + INSERT event (one statement), COMMIT;
           Redis: GET lock (still ours?) before the commit, EVAL release
  send     Redis: SET NX PX the outbox lock;  PG: SELECT pending replies,
           UPDATE reply sent feeding INSERT event (autocommit);
           Redis: EVAL release;  PG: the re-check (pending messages, due replies)

``--procs`` loops run in parallel (separate processes, own connections),
each on its own chats; the last line gives messages/s of all of them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DATABASE_URL, REDIS_URL, fmt, fresh_database, log

HISTORY = json.dumps([{"role": "user", "text": "oi", "at": "2026-11-25T10:00:00"}] * 20)
TASK = json.dumps({"body": "x" * 600, "headers": {"task": "whatsapp.tasks.drain_chat"}, "properties": {}})
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def loop(worker: int, seconds: float, out) -> None:
    import psycopg
    import redis

    pg = psycopg.connect(DATABASE_URL, autocommit=True)  # as Django: autocommit outside atomic blocks
    r = redis.Redis.from_url(REDIS_URL)
    release = r.register_script(RELEASE)
    chats = [f"phys{worker}-{i}" for i in range(50)]
    with pg.transaction():
        for chat in chats:
            pg.execute(
                "INSERT INTO chatbot_conversationstate (conversation_id, registration_step, data, history, turns, version,"
                " push_name, last_activity_at, created_at) VALUES (%s, 'idle', '{}', '[]', 0, 0, '', now(), now())",
                [chat],
            )
    queue = f"phys:q:{worker}"
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        chat = chats[done % len(chats)]
        # accept
        pg.execute(
            "WITH new AS (INSERT INTO whatsapp_inboundmessage (message_id, chat_id, number, jid, push_name, text, mimetype,"
            " has_audio, transcript, status, attempts, last_error, request_id, created_at)"
            " VALUES (%s, %s, %s, '', 'Bench', 'quero me inscrever', '', false, '', 'pending', 0, '', '', now())"
            " ON CONFLICT (message_id) DO NOTHING RETURNING id, created_at)"
            " INSERT INTO whatsapp_messageevent (kind, detail, created_at, inbound_id)"
            " SELECT 'accepted', 'api', created_at, id FROM new RETURNING inbound_id",
            [uuid.uuid4().hex, chat, chat],
        ).fetchone()
        r.lpush(queue, TASK)
        # process
        r.rpop(queue)
        token = uuid.uuid4().hex
        r.set(f"phys:lock:{chat}", token, nx=True, px=60000)
        inbound = pg.execute(
            "UPDATE whatsapp_inboundmessage AS m SET attempts = m.attempts + 1 WHERE m.id = (SELECT id FROM"
            " whatsapp_inboundmessage WHERE chat_id = %s AND status = 'pending' ORDER BY id LIMIT 1) AND m.status = 'pending'"
            " RETURNING m.id, m.text, EXISTS (SELECT 1 FROM whatsapp_inboundmessage o WHERE o.chat_id = m.chat_id"
            " AND o.status = 'pending' AND o.id > m.id)",
            [chat],
        ).fetchone()[0]
        with pg.transaction():
            state = pg.execute("SELECT id, version, data, history FROM chatbot_conversationstate WHERE conversation_id = %s",
                               [chat]).fetchone()
            pg.execute("UPDATE chatbot_conversationstate SET history = %s, data = '{}', turns = turns + 1, version = version + 1,"
                       " last_activity_at = now() WHERE id = %s AND version = %s", [HISTORY, state[0], state[1]])
            r.get(f"phys:lock:{chat}")
            pg.execute(
                "WITH done AS (UPDATE whatsapp_inboundmessage SET status = 'done', processed_at = now(), last_error = ''"
                " WHERE id = %s AND status = 'pending' RETURNING id, chat_id, number, jid, request_id),"
                " reply AS (INSERT INTO whatsapp_outboundmessage (inbound_id, kind, chat_id, number, jid, text, status,"
                " attempts, last_error, request_id, created_at) SELECT id, 'reply', chat_id, number, jid,"
                " 'Qual o seu nome completo?', 'pending', 0, '', request_id, now() FROM done RETURNING id),"
                " event AS (INSERT INTO whatsapp_messageevent (kind, detail, created_at, inbound_id)"
                " SELECT 'processed', '', now(), id FROM done)"
                " SELECT (SELECT id FROM done), (SELECT id FROM reply)",
                [inbound],
            ).fetchone()
        release(keys=[f"phys:lock:{chat}"], args=[token])
        # send
        r.set(f"phys:outbox:{chat}", token, nx=True, px=60000)
        outbound = pg.execute("SELECT id FROM whatsapp_outboundmessage WHERE chat_id = %s AND status = 'pending' ORDER BY id"
                              " LIMIT 50", [chat]).fetchone()[0]
        pg.execute(
            "WITH marked AS (UPDATE whatsapp_outboundmessage SET status = 'sent', sent_at = now(), attempts = attempts + 1,"
            " last_error = '' WHERE id = %s AND status = 'pending' RETURNING id)"
            " INSERT INTO whatsapp_messageevent (kind, detail, created_at, outbound_id)"
            " SELECT 'sent', '', now(), id FROM marked RETURNING outbound_id",
            [outbound],
        ).fetchone()
        release(keys=[f"phys:outbox:{chat}"], args=[token])
        pg.execute(
            "SELECT EXISTS (SELECT 1 FROM whatsapp_inboundmessage WHERE chat_id = %s AND status = 'pending'),"
            " (SELECT id FROM whatsapp_outboundmessage WHERE chat_id = %s AND status = 'pending'"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= now()) ORDER BY id LIMIT 1)",
            [chat, chat],
        ).fetchone()
        done += 1
    out.put(done)


def run(*, seconds: float, procs: int) -> dict:
    fresh_database()
    log(f"physical: {procs} loop(s) for {seconds}s")
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    workers = [ctx.Process(target=loop, args=(i, seconds, results)) for i in range(procs)]
    started = time.monotonic()
    for w in workers:
        w.start()
    total = sum(results.get(timeout=seconds + 60) for _ in workers)
    for w in workers:
        w.join(timeout=10)
    elapsed = time.monotonic() - started
    return {"procs": procs, "messages": total, "msgs_per_s": round(total / max(elapsed, seconds), 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--procs", type=int, default=4)
    args = parser.parse_args(argv)
    figures = run(seconds=args.seconds, procs=args.procs)
    print(fmt("physical", **figures))


if __name__ == "__main__":
    main()
