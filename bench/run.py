"""Run every benchmark and print its figures.

    python bench/run.py            # the full run (~5-10 minutes), as in docs/benchmarks.md
    python bench/run.py --quick    # the same benchmarks, shorter (< 2 minutes)
    python bench/run.py --only physical,pipeline0

Needs PostgreSQL and Redis on loopback (the README's `make test` set-up):
``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/congress_bench_run``;
re-created from a migrated template before each benchmark) and
``BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/14``, flushed). Every
benchmark starts its own gunicorn, Celery worker, fake OpenAI and fake
gateway on spare loopback ports, a separate load-generator process, and stops
them all when it ends. Each benchmark's last line is ``name: key=value ...``.

The pipeline runs the worker the way docs/benchmarks.md recommends
(``--pool threads --concurrency 64``); ``--worker`` picks another
(``prefork:2`` is the plain ``celery -A congress worker`` on two cores).
With a 0 ms LLM the pipeline runs three times: at ``--rate0`` (the target;
above our capacity, so ``sustained`` is the capacity), at ``--rate0-latency``
(a rate we keep up with, for honest latencies), and at ``--rate0`` accepted
in-process as our neonize gateway does (``pipeline_llm0_gateway``: no HTTP
request per message, two worker processes of half the threads each; the
issue's figure is the ``/whatsapp`` one).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import physical, pipeline, web
from bench.common import fmt, idle_share, machine

ALL = ["physical", "pipeline0", "pipeline0_latency", "pipeline0_gateway", "pipeline1000", "naive0", "naive1000", "http"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, under two minutes in all")
    parser.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    parser.add_argument("--worker", default="threads:64", help="POOL:CONCURRENCY[xPROCESSES] of the pipeline's worker")
    parser.add_argument("--rate0", type=float, default=150, help="offered messages/s with a 0 ms LLM (the target)")
    parser.add_argument("--rate0-latency", type=float, default=50, help="a rate we keep up with, 0 ms LLM")
    parser.add_argument("--rate1000", type=float, default=150,
                        help="offered messages/s with a 1,000 ms LLM (above both designs' capacity, so the ratio compares capacities)")
    args = parser.parse_args(argv)
    only = [name for name in args.only.split(",") if name]
    pool, _, rest = args.worker.partition(":")
    concurrency, _, procs = rest.partition("x")
    worker = {"pool": pool, "concurrency": int(concurrency or 2), "workers": int(procs or 1)}
    seconds = 5 if args.quick else 30
    started = time.monotonic()
    idle = idle_share()
    print(f"machine: {machine()}; idle before the run: {idle:.0%}", flush=True)
    if idle < 0.9:
        print("WARNING: something else is using the CPU; the figures below will be low", flush=True)
    results: dict[str, dict] = {}

    if "http" in only:
        # First: /whatsapp accept is bound by commit (fsync) latency, and this
        # VM's disk stays slow for minutes after the write-heavy pipeline runs
        # (seen: 369 req/s right after them, 549-673 on a rested machine).
        http_args = ["--seconds", "3" if args.quick else "10"]
        web.main(http_args)
    if "physical" in only:
        results["physical"] = physical.run(seconds=3 if args.quick else 15, procs=4)
        print(fmt("physical", **results["physical"]), flush=True)
    if "pipeline0_latency" in only:
        f = pipeline.run_ours(latency_ms=0, rate=args.rate0_latency, seconds=seconds, **worker)
        results["pipeline0_latency"] = f
        print(pipeline.line("pipeline_llm0_kept_up", f), flush=True)
    if "pipeline0_gateway" in only:
        # The same, accepted in-process as our neonize gateway does (no HTTP per
        # message). No gunicorn to feed, so one worker process per core: a
        # single process is bound by its GIL at ~1 core (~125 msg/s here).
        f = pipeline.run_ours(latency_ms=0, rate=args.rate0, seconds=seconds, via="gateway",
                              pool=worker["pool"], concurrency=max(1, worker["concurrency"] // 2), workers=2)
        results["pipeline0_gateway"] = f
        print(pipeline.line("pipeline_llm0_gateway", f), flush=True)
    for latency, rate in ((0, args.rate0), (1000, args.rate1000)):
        if f"pipeline{latency}" in only:
            f = pipeline.run_ours(latency_ms=latency, rate=rate, seconds=seconds, **worker)
            results[f"pipeline{latency}"] = f
            print(pipeline.line(f"pipeline_llm{latency}", f), flush=True)
        if f"naive{latency}" in only:
            f = pipeline.run_naive(latency_ms=latency, rate=rate, seconds=seconds)
            results[f"naive{latency}"] = f
            print(pipeline.line(f"naive_llm{latency}", f), flush=True)

    summary: dict[str, object] = {}
    phys = results.get("physical", {}).get("msgs_per_s")
    for latency in (0, 1000):
        ours = results.get(f"pipeline{latency}")
        naive = results.get(f"naive{latency}")
        if ours:
            summary[f"llm{latency}_msgs_per_s"] = ours["sustained"]
            summary[f"llm{latency}_ok"] = ours["accounting_ok"] and ours["no_loss"] and ours["order_ok"]
        if ours and naive:
            summary[f"llm{latency}_vs_naive"] = round(ours["sustained"] / max(naive["sustained"], 1e-9), 2)
        if ours and phys and latency == 0:
            summary["llm0_vs_physical"] = round(ours["sustained"] / phys, 3)
    if results.get("pipeline0_gateway"):
        summary["llm0_gateway_msgs_per_s"] = results["pipeline0_gateway"]["sustained"]
    summary["seconds"] = round(time.monotonic() - started)
    print(fmt("summary", **summary), flush=True)


if __name__ == "__main__":
    main()
