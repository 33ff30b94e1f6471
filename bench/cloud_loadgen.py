"""The load generator for the Cloud API webhook: ``bench/loadgen.py``'s
client, with every body signed as Meta signs it.

    python bench/cloud_loadgen.py PLAN.json OUT.jsonl

Plan: ``url``, ``path``, ``secret``, ``connections``, ``template`` (a
webhook body with ``__N__`` where each request's number goes, already
serialised as Meta sends it: compact, UTF-8) and either ``mode: "max"`` with
``seconds`` (``connections`` loops as fast as they go) or ``mode: "open"``
with ``rate`` and ``count`` (request i at i / rate seconds whatever the
server does; latency counted from the planned time). Every request carries
``X-Hub-Signature-256`` over its own raw body. Output: one line per request
in the load generator's format (``start``, ``latency``, ``status``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import Conn


async def main(plan: dict, out_path: str) -> None:
    url = urlparse(plan["url"])
    secret = plan["secret"].encode()
    template: str = plan["template"]
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(plan.get("connections", 16)):
        pool.put_nowait(Conn(url.hostname, url.port, ""))
    records: list[dict] = []
    counter = itertools.count()

    async def one(planned: float) -> None:
        body = template.replace("__N__", f"{next(counter):09d}").encode()
        signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        conn = await pool.get()
        conn.headers = f"X-Hub-Signature-256: {signature}\r\n"  # this request's own (one request per conn at a time)
        try:
            try:
                status, _payload = await conn.request("POST", plan["path"], body)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                conn.close()
                status = 599
        finally:
            pool.put_nowait(conn)
        records.append({"start": planned, "latency": time.time() - planned, "status": status, "tag": ""})

    if plan["mode"] == "max":
        deadline = time.time() + plan["seconds"]

        async def loop() -> None:
            while time.time() < deadline:
                await one(time.time())

        await asyncio.gather(*(loop() for _ in range(plan.get("connections", 16))))
    else:
        t0 = time.time() + 0.2
        tasks = []
        for i in range(plan["count"]):
            planned = t0 + i / plan["rate"]
            delay = planned - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(planned)))
        await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().close()
    with open(out_path, "w") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    with open(sys.argv[1]) as plan_file:
        asyncio.run(main(json.load(plan_file), sys.argv[2]))
