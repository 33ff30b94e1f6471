"""The load generator: a separate process, so its CPU is not the server's GIL.

    python bench/loadgen.py PLAN.json OUT.jsonl

A small asyncio HTTP/1.1 client over keep-alive loopback connections. The
plan (JSON) picks one of three modes:

* ``open``: ``requests`` (``at`` seconds after the start, ``path``, ``body``)
  sent on schedule whatever the server does (a fixed offered rate), at most
  ``connections`` in flight. Latency is counted from the planned send time,
  so a server that falls behind is charged for the wait (no coordinated
  omission).
* ``closed``: ``users`` (each a list of requests) run one request after the
  other, ``concurrency`` users at a time, until all are done or
  ``seconds`` passed.
* ``max``: ``connections`` loops POSTing ``body`` (``__N__`` replaced by a
  counter) or GETting ``path`` for ``seconds``.

Each finished request is one line of OUT.jsonl: ``start`` (wall clock, s),
``latency`` (s), ``status``, ``tag``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import sys
import time
from urllib.parse import urlparse


class Conn:
    def __init__(self, host: str, port: int, headers: str) -> None:
        self.host, self.port, self.headers = host, port, headers
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        for attempt in range(2):
            if self.writer is None:
                await self._open()
            head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.headers}"
            if body is not None:
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            try:
                self.writer.write(head.encode() + b"\r\n" + (body or b""))
                raw = await self.reader.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
                continue  # a keep-alive connection the server had closed
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            length, close = 0, False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
            payload = await self.reader.readexactly(length) if length else b""
            if close:
                self.close()
            return status, payload
        raise ConnectionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def main(plan: dict, out_path: str) -> None:
    url = urlparse(plan["url"])
    headers = "".join(f"{k}: {v}\r\n" for k, v in (plan.get("headers") or {}).items())
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(plan.get("connections", 8)):
        pool.put_nowait(Conn(url.hostname, url.port, headers))
    records: list[dict] = []
    mode = plan["mode"]

    async def one(method: str, path: str, body: bytes | None, tag: str, planned: float) -> dict:
        conn = await pool.get()
        try:
            try:
                status, payload = await conn.request(method, path, body)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                conn.close()
                status, payload = 599, b""
        finally:
            pool.put_nowait(conn)
        record = {"start": planned, "latency": time.time() - planned, "status": status, "tag": tag}
        if plan.get("keep_body"):
            record["body"] = payload.decode("utf-8", "replace")
        records.append(record)
        return record

    def encode(body) -> bytes | None:
        if body is None:
            return None
        return body.encode() if isinstance(body, str) else json.dumps(body).encode()

    if mode == "open":
        t0 = time.time() + 0.2
        tasks = []
        for req in plan["requests"]:
            planned = t0 + req["at"]
            delay = planned - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(req.get("method", "POST"), req["path"], encode(req.get("body")),
                                                 req.get("tag", ""), planned)))
        await asyncio.gather(*tasks)
    elif mode == "closed":
        deadline = time.time() + plan.get("seconds", 3600)
        users = iter(plan["users"])

        async def slot() -> None:
            for user in users:
                for req in user:
                    if time.time() > deadline:
                        return
                    await one(req.get("method", "POST"), req["path"], encode(req.get("body")), req.get("tag", ""),
                              time.time())

        await asyncio.gather(*(slot() for _ in range(plan.get("concurrency", 8))))
    elif mode == "max":
        deadline = time.time() + plan["seconds"]
        counter = itertools.count()
        template = plan.get("body")
        method = "POST" if template is not None else "GET"

        async def loop() -> None:
            while time.time() < deadline:
                body = None if template is None else template.replace("__N__", str(next(counter))).encode()
                await one(method, plan["path"], body, plan.get("tag", ""), time.time())

        await asyncio.gather(*(loop() for _ in range(plan.get("connections", 8))))
    else:
        raise SystemExit(f"unknown mode {mode!r}")

    while not pool.empty():
        pool.get_nowait().close()
    with open(out_path, "w") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    with open(sys.argv[1]) as plan_file:
        asyncio.run(main(json.load(plan_file), sys.argv[2]))
