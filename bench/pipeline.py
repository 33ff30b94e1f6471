"""Our pipeline end to end, and the naive design on the same workload.

    python bench/pipeline.py [--latency-ms 0] [--rate 150] [--seconds 20]
                             [--pool threads] [--concurrency 64] [--naive]

``ours``: the mixed workload (``common.mixed_workload``: registrations,
questions, 5 % gateway re-deliveries, 2 % voice notes) is POSTed to
``/whatsapp`` (queued shape) by the load generator at a fixed offered rate;
gunicorn accepts, a real Celery worker answers through the fake OpenAI
(``--latency-ms``), replies land at the fake gateway. Printed: sustained
messages/s (replies delivered per second while the load is on, after a 1 s
warm-up: the offered rate when the pipeline keeps up, its capacity when it
does not), drain_s (how long after the last offer the last reply went out),
p50/p95/p99 of accept latency, enqueue-to-start (row inserted -> its
processing starts) and receive-to-send (offered -> reply at the gateway),
CPU ms per message of web + worker, and the accounting
``received = processed + duplicates + failed``, plus per-chat order.

``--debounce MS``: the debounce figure (WA_DEBOUNCE_MS, issue 13): the
same pipeline run four times, single messages (the mixed workload: each chat
writes every 3 s, so nothing is merged) and bursts (``burst_workload``: each
chat sends three messages 100 ms apart every 3 s), each with the window off
(0) and at MS. Printed per run: messages answered per second, replies, how
many messages were merged, and reply latency p50/p95/p99 (singles: offered
-> reply; bursts: the burst's last message offered -> its one reply).

``--naive``: the same messages through the synchronous shape of
``/whatsapp`` (``{"number", "text"}``: the engine runs inside the request, as
the original system did) on the same gunicorn setup; gateway re-deliveries are
left out (the original deduplicated before calling) and voice notes are sent
as their transcript (no transcription wait): both favour the naive design.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    API_KEY,
    Message,
    Workload,
    cpu_seconds,
    db_connect,
    fmt,
    fresh_database,
    log,
    mixed_workload,
    pcts,
    processes,
    queued_body,
    run_loadgen,
    server_env,
    start_fake_gateway,
    start_fake_openai,
    start_gunicorn,
    start_worker,
    wait_until,
)

TRANSCRIPT = "qual o endereço do evento?"
# A burst that completes nothing on its own (no question mark, no field
# value, no menu number): with a window it waits for it.
BURST_TEXTS = ("oi", "tudo bem", "queria saber da programação de quarta")


def burst_workload(*, rate: float, seconds: float, size: int = 3, spacing_s: float = 0.1, gap_s: float = 3.0,
                   seed: int = 7) -> Workload:
    """``rate`` messages/s for ``seconds`` in bursts of ``size`` messages
    ``spacing_s`` apart; each chat sends its next burst ``gap_s`` after the
    previous one. Message ids are ``BURST<seed>-<burst>-<n>``."""
    bursts = int(rate * seconds / size)
    per_s = rate / size
    active = max(1, int(per_s * gap_s))  # chats talking at any moment
    out: list[Message] = []
    for b in range(bursts):
        chat = f"55438{seed:02d}{(b % active) + (b // (active * 8)) * active:06d}"  # a fresh chat every 8 bursts
        for n in range(size):
            out.append(Message(chat=chat, text=BURST_TEXTS[n % len(BURST_TEXTS)], message_id=f"BURST{seed}-{b:07d}-{n}",
                               at=b / per_s + n * spacing_s))
    out.sort(key=lambda m: m.at)
    return Workload(messages=out)


def _outstanding() -> tuple[int, int]:
    with db_connect() as conn:
        inbound = conn.execute("SELECT count(*) FROM whatsapp_inboundmessage WHERE status = 'pending'").fetchone()[0]
        outbound = conn.execute("SELECT count(*) FROM whatsapp_outboundmessage WHERE status = 'pending'").fetchone()[0]
    return inbound, outbound


def run_ours(*, latency_ms: float, rate: float, seconds: float, pool: str, concurrency: int, web_workers: int = 2,
             web_threads: int = 4, workers: int = 1, seed: int = 7, extra_env: dict | None = None,
             nice: int = 0, via: str = "http", debounce_ms: int = 0, workload: Workload | None = None) -> dict:
    """``via="http"``: POSTed to ``/whatsapp`` under gunicorn (the original
    gateway's path, the issue's benchmark); ``via="gateway"``: handed to
    ``message_accept`` in-process by ``bench/gateway_load.py``, as our
    neonize gateway does (no HTTP; its CPU replaces gunicorn's).
    ``debounce_ms``: the worker's WA_DEBOUNCE_MS (0, the default, is the
    undebounced pipeline every other figure measures); ``workload``: instead
    of the mixed workload (e.g. ``burst_workload``)."""
    fresh_database()
    workload = workload or mixed_workload(rate=rate, seconds=seconds, seed=seed)
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp, processes() as group:
        sent_log, start_log = Path(tmp) / "sent.log", Path(tmp) / "start.log"
        sent_log.touch()
        start_log.touch()
        openai_url = start_fake_openai(group, latency_ms=latency_ms)
        gateway_url = start_fake_gateway(group, record=sent_log)
        env = server_env(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=openai_url, GATEWAY_URL=gateway_url,
                         BENCH_START_LOG=str(start_log), WA_DEBOUNCE_MS=debounce_ms, **(extra_env or {}))
        web_url, web = start_gunicorn(group, env, workers=web_workers, threads=web_threads)
        worker_procs = [start_worker(group, env, pool=pool, concurrency=concurrency, name=f"w{i}", beat=i == 0,
                                     nice=nice) for i in range(workers)]
        pids = [web.popen.pid] + [w.popen.pid for w in worker_procs]
        plan = {
            "mode": "open", "url": web_url, "headers": {"X-API-Key": API_KEY}, "connections": 128,
            "requests": [{"at": m.at, "path": "/whatsapp", "body": queued_body(m), "tag": m.message_id}
                         for m in workload.messages],
        }
        log(f"ours: {len(workload.messages)} {'POSTs' if via == 'http' else 'gateway accepts'} ({workload.unique} messages) at {rate}/s for {seconds}s, "
            f"LLM {latency_ms} ms, worker --pool {pool} --concurrency {concurrency} x{workers}, WA_DEBOUNCE_MS={debounce_ms}")
        cpu0 = [cpu_seconds(p) for p in pids]
        if os.environ.get("BENCH_PROFILE"):
            _profile(group, pids, seconds)
        if via == "gateway":
            records = run_loadgen(plan, timeout=seconds * 4 + 120, script="gateway_load.py", env=env)
            gateway_cpu = sum(r["cpu_s"] for r in records if "cpu_s" in r)
            records = [r for r in records if "cpu_s" not in r]
        else:
            records = run_loadgen(plan, timeout=seconds * 4 + 120)
        offered_end = time.time()
        drained = wait_until(lambda: _outstanding() == (0, 0), timeout=max(60.0, seconds * 6), interval=0.25)
        cpu1 = [cpu_seconds(p) for p in pids]
        time.sleep(0.3)  # the last gateway lines
        sent = {}
        for line in sent_log.read_text().splitlines():
            at, key = line.split()
            if key.startswith("outbound-"):
                sent.setdefault(int(key.split("-", 1)[1]), float(at))
        starts: dict[int, float] = {}
        for line in start_log.read_text().splitlines():
            pk, at = line.split()
            starts.setdefault(int(pk), float(at))
        with db_connect() as conn:
            inbound = conn.execute(
                "SELECT id, message_id, chat_id, status, extract(epoch from created_at), answered_with_id"
                " FROM whatsapp_inboundmessage"
            ).fetchall()
            outbound = conn.execute(
                "SELECT id, inbound_id, status, chat_id FROM whatsapp_outboundmessage ORDER BY id"
            ).fetchall()
    figures = _figures(records, inbound, outbound, sent, starts, drained=drained, rate=rate, seconds=seconds,
                       cpu=sum(cpu1) - sum(cpu0), offered_end=offered_end, latency_ms=latency_ms, debounce_ms=debounce_ms)
    figures["web_cpu_ms_per_msg"] = round((cpu1[0] - cpu0[0]) * 1000 / max(1, figures["messages"]), 2)
    if via == "gateway":
        # gunicorn idled (health checks only); the gateway process accepted instead.
        web = gateway_cpu
        worker = sum(cpu1[1:]) - sum(cpu0[1:])
        figures["web_cpu_ms_per_msg"] = round(web * 1000 / max(1, figures["messages"]), 2)
        figures["cpu_ms_per_msg"] = round((web + worker) * 1000 / max(1, figures["messages"]), 2)
        figures["via"] = "gateway"
    return figures


def _profile(group, pids: list[int], seconds: float) -> None:
    """py-spy flame graphs of the web and the worker during the run (BENCH_PROFILE=dir)."""
    import subprocess

    out = Path(os.environ["BENCH_PROFILE"])
    out.mkdir(parents=True, exist_ok=True)
    for name, pid in (("web", pids[0]), ("worker", pids[1])):
        subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--subprocesses",
                          "--duration", str(int(seconds)), "--rate", "200", "--format", "raw", "--nonblocking",
                          "--output", str(out / f"{name}.txt"), *(["--gil"] if os.environ.get("BENCH_PROFILE_GIL") else [])], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _figures(records, inbound, outbound, sent, starts, *, drained, rate, seconds, cpu, offered_end, latency_ms,
             debounce_ms: int = 0) -> dict:
    first_offer = {}
    for r in records:
        first_offer.setdefault(r["tag"], r["start"])
        first_offer[r["tag"]] = min(first_offer[r["tag"]], r["start"])
    received = len(records)
    duplicates = sum(1 for r in records if r["status"] == 200)
    rejected = sum(1 for r in records if r["status"] not in (200, 202))
    processed = sum(1 for row in inbound if row[3] == "done")
    failed = sum(1 for row in inbound if row[3] == "failed") + rejected
    pending = sum(1 for row in inbound if row[3] == "pending")
    merged = sum(1 for row in inbound if row[5] is not None)
    by_inbound = {row[1]: row for row in outbound}
    # A message of a burst is answered by the reply of the message it was
    # answered with (answered_with); any other by its own.
    carrier = {row[0]: row[5] or row[0] for row in inbound}
    created = {row[0]: float(row[4]) for row in inbound}
    enqueue_to_start = [starts[pk] - created[pk] for pk in created if pk in starts]
    receive_to_send = []
    answered_at: dict[str, float] = {}
    for pk, message_id, *_ in inbound:
        out = by_inbound.get(carrier[pk])
        if out is not None and out[0] in sent and message_id in first_offer:
            receive_to_send.append(sent[out[0]] - first_offer[message_id])
            answered_at[message_id] = sent[out[0]]
    delivered = [row for row in outbound if row[2] == "sent"]
    # Per-chat order: replies reach the gateway in the order of their messages.
    order_ok = True
    per_chat: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for out_id, inbound_id, _status, chat in outbound:
        if out_id in sent:
            per_chat[chat].append((sent[out_id], inbound_id))
    for rows in per_chat.values():
        ids = [inbound_id for _at, inbound_id in sorted(rows)]
        order_ok &= ids == sorted(ids)
    t0 = min(r["start"] for r in records)
    t_last = max(sent.values()) if sent else offered_end
    # Sustained: replies delivered per second while the load was on, after a
    # one-second warm-up. A pipeline that keeps up delivers the offered rate;
    # one that cannot delivers its capacity (its backlog grows meanwhile).
    t_end = max(r["start"] for r in records)
    window = [at for at in sent.values() if t0 + 1 <= at <= t_end]
    answered_in_window = [at for at in answered_at.values() if t0 + 1 <= at <= t_end]
    accounting_ok = received == processed + duplicates + failed and pending == 0
    # Every reply delivered, and every message answered by one (its own or its burst's).
    no_loss = (len(delivered) == len(inbound) - pending - merged and len(sent) == len(delivered)
               and len(answered_at) == processed)
    # Bursts (ids BURST<seed>-<burst>-<n>): latency from the burst's last
    # message offered to the reply that answers it (with a window, the
    # burst's one reply), and how many bursts got exactly one reply.
    bursts: dict[str, list[str]] = defaultdict(list)
    for message_id in first_offer:
        if message_id.startswith("BURST"):
            bursts[message_id.rsplit("-", 1)[0]].append(message_id)
    burst_latency, answered_once = [], 0
    ids_by_message = {row[1]: row[0] for row in inbound}
    for members in bursts.values():
        replies = {carrier[ids_by_message[m]] for m in members if m in ids_by_message}
        answered_once += len(replies) == 1
        last = max(members, key=lambda m: first_offer[m])
        if last in answered_at:  # the reply that answers the burst's last message
            burst_latency.append(answered_at[last] - first_offer[last])
    figures_bursts = {"bursts": len(bursts), "bursts_answered_once": answered_once,
                      "burst_reply": pcts(burst_latency)} if bursts else {}
    if debounce_ms:
        # Answered without waiting for the window (a message that completed
        # the pending step): replied within half the window.
        quick = sum(1 for latency in receive_to_send if latency < debounce_ms / 2000)
        figures_bursts["at_once_share"] = round(quick / max(1, len(receive_to_send)), 3)
    return {
        "llm_ms": int(latency_ms),
        "offered": rate,
        "seconds": seconds,
        "messages": len(inbound),
        "sustained": round(len(window) / max(t_end - t0 - 1, 1e-9), 1),
        "answered_per_s": round(len(answered_in_window) / max(t_end - t0 - 1, 1e-9), 1),
        "replies": len(delivered),
        "merged": merged,
        "drain_s": round(max(0.0, t_last - t_end), 1),
        "accept": pcts([r["latency"] for r in records]),
        "enqueue_to_start": pcts(enqueue_to_start),
        "receive_to_send": pcts(receive_to_send),
        "cpu_ms_per_msg": round(cpu * 1000 / max(1, len(inbound)), 2),
        "received": received,
        "processed": processed,
        "duplicates": duplicates,
        "failed": failed,
        "accounting_ok": accounting_ok,
        "no_loss": no_loss,
        "order_ok": order_ok,
        "drained": drained,
        **figures_bursts,
    }


def run_naive(*, latency_ms: float, rate: float, seconds: float, web_workers: int = 2, web_threads: int = 4,
              seed: int = 7) -> dict:
    fresh_database()
    workload = mixed_workload(rate=rate, seconds=seconds, seed=seed)
    messages = [m for m in workload.messages if m.duplicate_of is None]
    with processes() as group:
        openai_url = start_fake_openai(group, latency_ms=latency_ms)
        env = server_env(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=openai_url, THROTTLE_CONVERSATION_RATE="")
        web_url, web = start_gunicorn(group, env, workers=web_workers, threads=web_threads)
        plan = {
            "mode": "open", "url": web_url, "headers": {"X-API-Key": API_KEY}, "connections": 128,
            "requests": [{"at": m.at, "path": "/whatsapp", "tag": m.message_id,
                          "body": {"number": m.chat, "text": m.text or TRANSCRIPT}} for m in messages],
        }
        log(f"naive: {len(messages)} messages at {rate}/s for {seconds}s, LLM {latency_ms} ms, "
            f"gunicorn {web_workers}x{web_threads}")
        cpu0 = cpu_seconds(web.popen.pid)
        records = run_loadgen(plan, timeout=seconds * 20 + 300)
        cpu1 = cpu_seconds(web.popen.pid)
    ok = [r for r in records if r["status"] == 200]
    t0 = min(r["start"] for r in records)
    t_end = max(r["start"] for r in records)
    t_last = max(r["start"] + r["latency"] for r in records)
    window = [r for r in ok if t0 + 1 <= r["start"] + r["latency"] <= t_end]
    return {
        "llm_ms": int(latency_ms),
        "offered": rate,
        "messages": len(records),
        "answered": len(ok),
        "sustained": round(len(window) / max(t_end - t0 - 1, 1e-9), 1),
        "drain_s": round(max(0.0, t_last - t_end), 1),
        "latency": pcts([r["latency"] for r in ok]),
        "cpu_ms_per_msg": round((cpu1 - cpu0) * 1000 / max(1, len(ok)), 2),
    }


def line(name: str, f: dict) -> str:
    flat = {}
    for key, value in f.items():
        if isinstance(value, dict):
            flat.update({f"{key}_{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return fmt(name, **flat)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--rate", type=float, default=150)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--pool", default="threads")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--nice", type=int, default=0, help="run the workers at this niceness")
    parser.add_argument("--naive", action="store_true")
    parser.add_argument("--via", choices=["http", "gateway"], default="http",
                        help="accept through /whatsapp (default) or in-process as our neonize gateway does")
    parser.add_argument("--debounce", type=int, default=None, metavar="MS",
                        help="the debounce figure: single messages and bursts, each with WA_DEBOUNCE_MS 0 and MS")
    parser.add_argument("--burst-rate", type=float, default=None, help="offered messages/s of the burst runs (default --rate)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.debounce is not None:
        worker = {"pool": args.pool, "concurrency": args.concurrency, "workers": args.workers,
                  "web_workers": args.web_workers, "web_threads": args.web_threads, "nice": args.nice}
        for kind in ("singles", "bursts"):
            rate = args.rate if kind == "singles" else (args.burst_rate or args.rate)
            for window in (0, args.debounce):
                workload = burst_workload(rate=rate, seconds=args.seconds) if kind == "bursts" else None
                figures = run_ours(latency_ms=args.latency_ms, rate=rate, seconds=args.seconds, debounce_ms=window,
                                   workload=workload, **worker)
                if args.json:
                    print(json.dumps({"kind": kind, "debounce_ms": window, **figures}))
                print(line(f"debounce{window}_{kind}_llm{int(args.latency_ms)}", figures), flush=True)
        return
    if args.naive:
        figures = run_naive(latency_ms=args.latency_ms, rate=args.rate, seconds=args.seconds,
                            web_workers=args.web_workers, web_threads=args.web_threads)
        name = f"naive_llm{int(args.latency_ms)}"
    else:
        figures = run_ours(latency_ms=args.latency_ms, rate=args.rate, seconds=args.seconds, pool=args.pool,
                           concurrency=args.concurrency, workers=args.workers, web_workers=args.web_workers,
                           web_threads=args.web_threads, nice=args.nice, via=args.via)
        name = f"pipeline_llm{int(args.latency_ms)}" + ("_gateway" if args.via == "gateway" else "")
    if args.json:
        print(json.dumps(figures))
    print(line(name, figures))


if __name__ == "__main__":
    main()
