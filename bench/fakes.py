"""The fake edges as processes of their own (so their CPU is not the bench's):

    python -m bench.fakes openai --port P --latency-ms 1000
    python -m bench.fakes gateway --port P --record FILE

``openai`` is ``congress.testing.fake_openai`` (the real client talks to it),
answering voice notes with a question. ``gateway`` is
``congress.testing.fake_gateway``'s ``/send-text``; it appends one line per
delivered reply to FILE: ``<wall clock> <Idempotency-Key>``. Neither keeps the
requests in memory (long runs).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def serve_openai(port: int, latency_ms: float) -> None:
    from congress.testing.fake_openai import FakeOpenAI

    class Fake(FakeOpenAI):
        def _record(self, record) -> None:  # keep nothing: long runs
            pass

    fake = Fake(port=port, latency_ms=latency_ms, transcript_text="qual o endereço do evento?",
                reply_text="O congresso acontece no centro de eventos; mais detalhes no site.").start()
    print(f"fake OpenAI listening on {fake.base_url} latency={latency_ms}ms", flush=True)
    _forever()


def serve_gateway(port: int, record: str) -> None:
    from congress.testing.fake_gateway import FakeGateway

    out = open(record, "a", buffering=1)  # noqa: SIM115 - lives as long as the process

    class Gateway(FakeGateway):
        def _record(self, request) -> None:
            if request.status == 200:
                out.write(f"{time.time():.6f} {request.headers.get('idempotency-key', '')}\n")

    from bench.common import GATEWAY_KEY

    gateway = Gateway(api_key=GATEWAY_KEY, port=port).start()
    print(f"fake gateway listening on {gateway.url}", flush=True)
    _forever()


def _forever() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["openai", "gateway"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--record", default="/dev/null")
    args = parser.parse_args()
    if args.kind == "openai":
        serve_openai(args.port, args.latency_ms)
    else:
        serve_gateway(args.port, args.record)
