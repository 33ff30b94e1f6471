"""Where one message's CPU goes, in ONE process (no contention, no Celery).

    python bench/profile_drain.py [--messages 600] [--cprofile 40]

The mixed workload of ``bench/pipeline.py`` is accepted (``message_accept``)
and answered (``chat_drain(deliver=True)``: engine turn, commit, reply sent to
the fake gateway) one message at a time against the bench database, Redis
db 14, the fake OpenAI (0 ms) and the fake gateway. Printed: CPU ms per
message of accept and of drain + send, PostgreSQL statements and Redis
commands per message, and with ``--cprofile N`` the N most expensive
functions (cumulative) of the drain. This is the figure each worker change
was measured with (docs/benchmarks.md); the pipeline benchmark measures the
same code under load.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from bench.common import (
    fmt,
    fresh_database,
    log,
    mixed_workload,
    processes,
    server_env,
    start_fake_gateway,
    start_fake_openai,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--cprofile", type=int, default=0, help="print the N most expensive functions")
    parser.add_argument("--show-sql", type=int, default=0, help="print the statements of the first N messages")
    args = parser.parse_args(argv)
    fresh_database()
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp, processes() as group:
        openai_url = start_fake_openai(group, latency_ms=0)
        gateway_url = start_fake_gateway(group, record=Path(tmp) / "sent.log")
        os.environ.update(server_env(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=openai_url, GATEWAY_URL=gateway_url,
                                     LOG_LEVEL="WARNING"))
        import django

        django.setup()
        from django.db import connection

        from whatsapp import services

        services.enqueue_drain = lambda *a, **k: True  # the drain runs right here
        statements = [0]

        shown = [0]

        def count(execute, sql, params, many, context):
            statements[0] += 1
            if shown[0] < args.show_sql:
                print("   SQL", sql[:160].replace("\n", " "))
            return execute(sql, params, many, context)

        import redis

        redis_calls = [0]
        original_execute = redis.Redis.execute_command

        def counted(self, *a, **k):  # every client: locks, cache, broker
            redis_calls[0] += 1
            return original_execute(self, *a, **k)

        redis.Redis.execute_command = counted
        messages = [m for m in mixed_workload(rate=50, seconds=args.messages / 50, audio_share=0).messages
                    if not m.duplicate_of]
        log(f"profile: {len(messages)} messages accepted and drained one at a time in one process")
        # Warm up (imports, knowledge index, connections) outside the figures.
        warm = messages[:20]
        for m in warm:
            services.message_accept(message_id=m.message_id, number=m.chat, jid=f"{m.chat}@s.whatsapp.net",
                                    text=m.text, push_name="Bench")
            services.chat_drain(chat_id=m.chat, deliver=True)
        measured = messages[20:]
        profiler = cProfile.Profile() if args.cprofile else None
        accept_cpu = drain_cpu = 0.0
        accept_sql = drain_sql = accept_redis = drain_redis = 0
        with connection.execute_wrapper(count):
            for m in measured:
                s0, r0, c0 = statements[0], redis_calls[0], time.process_time()
                services.message_accept(message_id=m.message_id, number=m.chat, jid=f"{m.chat}@s.whatsapp.net",
                                        text=m.text, push_name="Bench")
                s1, r1, c1 = statements[0], redis_calls[0], time.process_time()
                if profiler:
                    profiler.enable()
                with contextlib.suppress(services.RetryLater):
                    services.chat_drain(chat_id=m.chat, deliver=True)
                if profiler:
                    profiler.disable()
                if shown[0] < args.show_sql:
                    shown[0] += 1
                    print(f"-- message {shown[0]} ({m.text[:30]!r}): {statements[0] - s1} statements")
                c2 = time.process_time()
                accept_cpu += c1 - c0
                drain_cpu += c2 - c1
                accept_sql += s1 - s0
                drain_sql += statements[0] - s1
                accept_redis += r1 - r0
                drain_redis += redis_calls[0] - r1
        n = len(measured)
        sent = len((Path(tmp) / "sent.log").read_text().splitlines())
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.cprofile)
    print(fmt("profile_drain", messages=n, replies_sent=sent,
              accept_cpu_ms=round(accept_cpu * 1000 / n, 3), drain_cpu_ms=round(drain_cpu * 1000 / n, 3),
              accept_sql=round(accept_sql / n, 2), drain_sql=round(drain_sql / n, 2),
              accept_redis=round(accept_redis / n, 2), drain_redis=round(drain_redis / n, 2)))


if __name__ == "__main__":
    main()
