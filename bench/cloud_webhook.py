"""HTTP: the WhatsApp Cloud API webhook's accept path (``/whatsapp/cloud``),
signed bodies, under gunicorn; optionally ``/whatsapp``'s queued accept in
the same run for comparison.

    python bench/cloud_webhook.py [--seconds 10] [--workers 2] [--threads 4] [--compare]

* ``cloud_accept_max``: signed webhook POSTs (one text message each, a new
  ``wamid`` and sender each, accented text) as fast as 16 keep-alive
  connections go; no worker runs, so this is the accept alone: signature
  check over the raw body, JSON parse, the one-statement INSERT, the enqueue.
  CPU ms per request is gunicorn's CPU / requests.
* ``cloud_accept_100``: the same at a fixed 100 requests/s: latency
  percentiles (counted from the planned send time).
* checked: every 200 stored exactly one ``cloud`` inbound message.
* ``--compare``: ``bench/web.py``'s ``/whatsapp`` accept (max and 100/s)
  right after, same machine state.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    cpu_seconds,
    db_connect,
    fmt,
    fresh_database,
    log,
    processes,
    run_loadgen,
    server_env,
    start_gunicorn,
    summarize_http,
)

SECRET = "bench-app-secret-0123456789"
PHONE_NUMBER_ID = "106540352242922"
# One text message per webhook, as Meta sends it (compact UTF-8 JSON); __N__
# makes the wamid and the sender unique (each message its own chat).
TEMPLATE = json.dumps({
    "object": "whatsapp_business_account",
    "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "556130000000", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "João Conceição"}, "wa_id": "5543__N__"}],
        "messages": [{"from": "5543__N__", "id": "wamid.HBgNNTU0M__N__FQIAEhgUM0VCMEM0MzFDMkExAA==",
                      "timestamp": "1764000000", "type": "text",
                      "text": {"body": "Onde fica o evento? Quero saber da inscrição."}}],
    }}]}],
}, ensure_ascii=False, separators=(",", ":"))


def _plan(url: str, **extra) -> dict:
    return {"url": url, "path": "/whatsapp/cloud", "secret": SECRET, "template": TEMPLATE, "connections": 16, **extra}


def _stored() -> int:
    with db_connect() as conn:
        return conn.execute("SELECT count(*) FROM whatsapp_inboundmessage WHERE channel = 'cloud'").fetchone()[0]


def bench_cloud_accept(*, seconds: float, workers: int, threads: int) -> tuple[dict, dict]:
    fresh_database()
    env = server_env(WA_CLOUD_APP_SECRET=SECRET, WA_CLOUD_PHONE_NUMBER_ID=PHONE_NUMBER_ID)
    with processes() as group:
        url, proc = start_gunicorn(group, env, workers=workers, threads=threads)
        # Warm-up: every gunicorn worker has loaded its code and connections.
        warm = run_loadgen(_plan(url, mode="max", seconds=1.0, template=TEMPLATE.replace("__N__", "9__N__")),
                           timeout=120, script="cloud_loadgen.py")
        cpu0 = cpu_seconds(proc.popen.pid)
        records = run_loadgen(_plan(url, mode="max", seconds=seconds), timeout=seconds + 120, script="cloud_loadgen.py")
        top = summarize_http(records)
        top["cpu_ms_per_req"] = round((cpu_seconds(proc.popen.pid) - cpu0) * 1000 / max(1, top["requests"]), 2)
        n = int(100 * seconds)
        fixed_records = run_loadgen(_plan(url, mode="open", rate=100, count=n, connections=64,
                                          template=TEMPLATE.replace("__N__", "8__N__")),
                                    timeout=seconds + 120, script="cloud_loadgen.py")
        fixed = summarize_http(fixed_records)
    ok = sum(1 for r in [*warm, *records, *fixed_records] if r["status"] == 200)
    stored = _stored()
    top["stored_ok"] = stored == ok
    if stored != ok:
        log(f"MISMATCH: {ok} requests answered 200, {stored} cloud messages stored")
    return top, fixed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--compare", action="store_true", help="also run /whatsapp's accept (bench/web.py)")
    args = parser.parse_args(argv)
    setup = {"seconds": args.seconds, "workers": args.workers, "threads": args.threads}
    top, fixed = bench_cloud_accept(**setup)
    print(fmt("cloud_accept_max", **top), flush=True)
    print(fmt("cloud_accept_100", **fixed), flush=True)
    summary = {"cloud_rps": top["rps"], "cloud_cpu_ms": top["cpu_ms_per_req"], "cloud100_p99_ms": fixed.get("p99")}
    if args.compare:
        from bench import web

        gateway_top, gateway_fixed = web.bench_accept(**setup)
        print(fmt("http_accept_max", **gateway_top), flush=True)
        print(fmt("http_accept_100", **gateway_fixed), flush=True)
        summary.update(whatsapp_rps=gateway_top["rps"], whatsapp_cpu_ms=gateway_top["cpu_ms_per_req"],
                       whatsapp100_p99_ms=gateway_fixed.get("p99"))
    print(fmt("cloud_webhook", **summary))


if __name__ == "__main__":
    main()
