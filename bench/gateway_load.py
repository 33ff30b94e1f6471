"""The offered load as our own WhatsApp gateway delivers it: in-process
``message_accept`` calls, no HTTP (a separate process, like
``manage.py whatsapp_gateway``).

    python bench/gateway_load.py PLAN.json OUT.jsonl

The plan is ``bench/loadgen.py``'s ``open`` plan (``requests`` with ``at``
and the queued ``/whatsapp`` body); each message is handed to
``message_accept`` at its planned time by a pool of threads, as the neonize
handler does for each event. Each finished call is one line of OUT.jsonl in
the load generator's format (``start``, ``latency``, ``status``: 202 queued,
200 duplicate, 400 refused, 500 error; ``tag``), and a last line
``{"cpu_s": ...}`` with this process's CPU time while the load was on (the
gateway's share of the pipeline's CPU, in place of gunicorn's).
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text())
    out = open(sys.argv[2], "w")  # noqa: SIM115 - written by the pool's threads until the end
    import django

    django.setup()
    from django.db import close_old_connections

    from congress.errors import InvalidValue
    from whatsapp.services import message_accept

    lock = threading.Lock()

    def accept(request: dict, planned: float) -> None:
        body = request["body"]
        audio = base64.b64decode(body["audio_base64"]) if body.get("audio_base64") else None
        try:
            result = message_accept(
                message_id=body["message_id"], number=body.get("number") or "", jid=body.get("jid") or "",
                text=body.get("text") or "", push_name=body.get("push_name") or "", timestamp=body.get("timestamp"),
                audio=audio, mimetype=body.get("mimetype") or "", source="gateway",
            )
            status = 202 if result.status == "queued" else 200
        except InvalidValue:
            status = 400
        except Exception:  # counted as an error, never silently lost
            status = 500
        finally:
            close_old_connections()
        line = json.dumps({"start": planned, "latency": time.time() - planned, "status": status, "tag": request["tag"]})
        with lock:
            out.write(line + "\n")

    requests = sorted(plan["requests"], key=lambda r: r["at"])
    cpu0 = time.process_time()
    started = time.time() + 0.2
    # A handful of threads, as neonize's event handlers (not one per HTTP connection).
    with ThreadPoolExecutor(max_workers=8) as pool:
        for request in requests:
            planned = started + request["at"]
            delay = planned - time.time()
            if delay > 0:
                time.sleep(delay)
            pool.submit(accept, request, planned)
    out.write(json.dumps({"cpu_s": time.process_time() - cpu0}) + "\n")
    out.close()


if __name__ == "__main__":
    main()
