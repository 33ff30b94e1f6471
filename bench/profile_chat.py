"""Where one ``/chat`` message's CPU goes, in ONE process (no server, no contention).

    python bench/profile_chat.py [--users 40] [--cprofile 40]

The ``/chat`` benchmark's users (a full registration and two questions each)
go through Django's full request cycle (middleware, DRF, API key, throttles,
the engine turn under its Redis lock) with the test client, against the
bench database, Redis db 14 and the fake OpenAI at 0 ms. Printed: CPU ms per
message, PostgreSQL statements per message and, with ``--cprofile N``, the N
most expensive functions. ``bench/web.py`` measures the same under gunicorn.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import API_KEY, fmt, fresh_database, log, processes, server_env, start_fake_openai, user_script


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--cprofile", type=int, default=0, help="print the N most expensive functions")
    args = parser.parse_args(argv)
    fresh_database()
    with processes() as group:
        openai_url = start_fake_openai(group, latency_ms=0)
        os.environ.update(server_env(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=openai_url, LOG_LEVEL="WARNING",
                                     THROTTLE_CONVERSATION_RATE="100000/min"))
        import django

        django.setup()
        from django.db import connection
        from django.test import Client

        client = Client(HTTP_X_API_KEY=API_KEY, HTTP_HOST="127.0.0.1")
        rng = random.Random(7)
        scripts = [(f"5561{u:09d}", user_script(u, rng)) for u in range(args.users + 2)]

        def post(user: str, text: str) -> None:
            response = client.post("/chat", {"user_id": user, "message": text}, content_type="application/json")
            assert response.status_code == 200, response.content

        for user, script in scripts[:2]:  # warm-up: imports, knowledge index, connections
            for text in script:
                post(user, text)
        statements = [0]

        def count(execute, sql, params, many, context):
            statements[0] += 1
            return execute(sql, params, many, context)

        import redis

        redis_calls = [0]
        original_execute = redis.Redis.execute_command

        def counted(self, *a, **k):
            redis_calls[0] += 1
            return original_execute(self, *a, **k)

        redis.Redis.execute_command = counted
        profiler = cProfile.Profile() if args.cprofile else None
        messages = 0
        log(f"profile: {args.users} users x {len(scripts[0][1])} messages through /chat in one process")
        with connection.execute_wrapper(count):
            started = time.process_time()
            if profiler:
                profiler.enable()
            for position in range(len(scripts[0][1])):  # users interleaved, as in the benchmark
                for user, script in scripts[2:]:
                    post(user, script[position])
                    messages += 1
            if profiler:
                profiler.disable()
            cpu = time.process_time() - started
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.cprofile)
    print(fmt("profile_chat", messages=messages, cpu_ms_per_msg=round(cpu * 1000 / messages, 3),
              sql_per_msg=round(statements[0] / messages, 2), redis_per_msg=round(redis_calls[0] / messages, 2)))


if __name__ == "__main__":
    main()
