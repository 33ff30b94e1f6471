"""HTTP: ``/whatsapp`` accept and ``/chat`` under gunicorn, beside a bare WSGI
hello-world on the same server setup, in the same run.

    python bench/web.py [--seconds 8] [--workers 2] [--threads 4]

* ``hello``: the hello-world app (``bench/hello_wsgi.py``), as fast as 16
  keep-alive connections go: the ceiling of the server setup.
* ``accept_max``: ``/whatsapp`` (queued shape, unique ids) the same way; no
  worker runs, so this is the accept alone (INSERT + enqueue).
* ``accept_100``: ``/whatsapp`` at a fixed 100 requests/s: latency percentiles.
* ``chat_llm0`` / ``chat_llm300``: ``/chat`` with 8 concurrent simulated
  users, each doing a full registration and two questions, the fake LLM
  answering in 0 / 300 ms; CPU ms per message is gunicorn's CPU / messages.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    API_KEY,
    cpu_seconds,
    fmt,
    fresh_database,
    processes,
    run_loadgen,
    server_env,
    start_fake_openai,
    start_gunicorn,
    summarize_http,
    user_script,
)

ACCEPT_BODY = json.dumps({"message_id": "WEB-__N__", "number": "5543999__N__", "jid": "", "text": "Onde fica o evento?",
                          "push_name": "Bench", "timestamp": 1764000000})


def _max(url: str, path: str, body: str | None, seconds: float, connections: int = 16) -> dict:
    plan = {"mode": "max", "url": url, "path": path, "body": body, "seconds": seconds, "connections": connections,
            "headers": {"X-API-Key": API_KEY}}
    return summarize_http(run_loadgen(plan, timeout=seconds + 120))


def _warm_up(url: str, users: int = 8) -> None:
    """A few turns first, so each gunicorn worker has built its knowledge
    index and LLM client before the clock starts."""
    warm = [[{"path": "/chat", "body": {"user_id": f"5569{u:09d}", "message": text}}
             for text in ("oi", "Quanto custa a inscrição?", "quero me inscrever")] for u in range(users * 2)]
    run_loadgen({"mode": "closed", "url": url, "users": warm, "concurrency": users, "connections": users,
                 "headers": {"X-API-Key": API_KEY}}, timeout=120)


def bench_hello(*, seconds: float, workers: int, threads: int) -> dict:
    with processes() as group:
        url, _proc = start_gunicorn(group, server_env(), app="bench.hello_wsgi", workers=workers, threads=threads)
        return _max(url, "/whatsapp", '{"n": __N__}', seconds)


def bench_accept(*, seconds: float, workers: int, threads: int) -> tuple[dict, dict]:
    fresh_database()
    with processes() as group:
        url, proc = start_gunicorn(group, server_env(), workers=workers, threads=threads)
        _max(url, "/whatsapp", ACCEPT_BODY.replace("WEB-", "WARM-"), 1.0)
        cpu0 = cpu_seconds(proc.popen.pid)
        top = _max(url, "/whatsapp", ACCEPT_BODY, seconds)
        top["cpu_ms_per_req"] = round((cpu_seconds(proc.popen.pid) - cpu0) * 1000 / max(1, top["requests"]), 2)
        n = int(100 * seconds)
        plan = {"mode": "open", "url": url, "connections": 64, "headers": {"X-API-Key": API_KEY},
                "requests": [{"at": i / 100, "path": "/whatsapp", "body": ACCEPT_BODY.replace("__N__", f"9{i:07d}")}
                             for i in range(n)]}
        fixed = summarize_http(run_loadgen(plan, timeout=seconds + 120))
    return top, fixed


def bench_chat(*, latency_ms: float, seconds: float, workers: int, threads: int, users: int = 8) -> dict:
    fresh_database()
    rng = random.Random(11)
    scripts = [[{"path": "/chat", "body": {"user_id": f"5561{u:09d}", "message": text}, "tag": str(i)}
                for i, text in enumerate(user_script(u, rng))] for u in range(users * 60)]
    with processes() as group:
        openai_url = start_fake_openai(group, latency_ms=latency_ms)
        env = server_env(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=openai_url)
        url, proc = start_gunicorn(group, env, workers=workers, threads=threads)
        plan = {"mode": "closed", "url": url, "users": scripts, "concurrency": users, "seconds": seconds,
                "connections": users, "headers": {"X-API-Key": API_KEY}}
        _warm_up(url, users)
        cpu0 = cpu_seconds(proc.popen.pid)
        records = run_loadgen(plan, timeout=seconds + 120)
        cpu = cpu_seconds(proc.popen.pid) - cpu0
    figures = summarize_http(records)
    figures["cpu_ms_per_msg"] = round(cpu * 1000 / max(1, len(records)), 2)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--only", default="hello,accept,chat0,chat300")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    setup = {"seconds": args.seconds, "workers": args.workers, "threads": args.threads}
    out = {}
    if "hello" in only:
        out["hello"] = bench_hello(**setup)
        print(fmt("http_hello", **out["hello"]), flush=True)
    if "accept" in only:
        out["accept_max"], out["accept_100"] = bench_accept(**setup)
        print(fmt("http_accept_max", **out["accept_max"]), flush=True)
        print(fmt("http_accept_100", **out["accept_100"]), flush=True)
    for latency in (0, 300):
        if f"chat{latency}" in only:
            out[f"chat{latency}"] = bench_chat(latency_ms=latency, **setup)
            print(fmt(f"http_chat_llm{latency}", **out[f"chat{latency}"]), flush=True)
    summary = {"workers": args.workers, "threads": args.threads}
    if "hello" in out and "accept_max" in out:
        summary["accept_rps"] = out["accept_max"]["rps"]
        summary["hello_rps"] = out["hello"]["rps"]
        summary["accept_vs_hello"] = round(out["accept_max"]["rps"] / max(out["hello"]["rps"], 1e-9), 3)
    if "accept_100" in out:
        summary["accept100_p99_ms"] = out["accept_100"]["p99"]
    for latency in (0, 300):
        if f"chat{latency}" in out:
            summary[f"chat{latency}_rps"] = out[f"chat{latency}"]["rps"]
            summary[f"chat{latency}_cpu_ms"] = out[f"chat{latency}"]["cpu_ms_per_msg"]
    if "hello" in out and "chat0" in out:
        summary["chat0_vs_hello"] = round(out["chat0"]["rps"] / max(out["hello"]["rps"], 1e-9), 3)
    print(fmt("http", **summary))


if __name__ == "__main__":
    main()
