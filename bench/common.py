"""Shared machinery of the benchmarks: a private database and Redis db, the
server processes (gunicorn, Celery, fake OpenAI, fake gateway), the workload,
and the figures.

Everything runs on loopback against the real PostgreSQL and Redis of this
machine, in a database and Redis db of its own:

* ``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/congress_bench_run``):
  the bench drops and re-creates it from a migrated template
  (``<name>_tpl``, demo event loaded) before each benchmark.
* ``BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/14``): flushed before
  each benchmark. Use a db number nothing else uses.

Every process a benchmark starts is in its own process group and is stopped
(then SIGKILLed) when the benchmark ends, whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from congress.testing.procs import Proc, free_port, wait_until  # noqa: E402

BIN = Path(sys.executable).parent
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/congress_bench_run")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
API_KEY = "bench-api-key-0123456789abcdef"
GATEWAY_KEY = "bench-gateway-key-0123456789"
SECRET_KEY = "bench-secret-key-" + "x" * 50

# --- small helpers --------------------------------------------------------------


def log(message: str) -> None:
    print(f"  · {message}", flush=True)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[rank]


def pcts(values_s: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds."""
    return {f"p{p}": round(percentile(values_s, p) * 1000, 1) for p in (50, 95, 99)}


def fmt(name: str, **figures: object) -> str:
    return f"{name}: " + " ".join(f"{k}={v}" for k, v in figures.items())


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and all its descendants (live ones)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for p in _descendants(pid) | {pid}:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def idle_share(seconds: float = 1.0) -> float:
    """Share of the machine's CPU time that was idle over ``seconds``."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)

    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return (idle1 - idle0) / max(1, total1 - total0)


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({cpu}), Python {sys.version.split()[0]}"


# --- database and Redis -------------------------------------------------------------


def _db_parts(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    return parsed.path.lstrip("/"), url[: url.rfind("/")] + "/postgres"


def _admin_exec(sql: str) -> None:
    import psycopg

    _name, admin_url = _db_parts(DATABASE_URL)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


def _terminate(name: str) -> None:
    _admin_exec(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()")


def prepare_template(*, force: bool = False) -> None:
    """Create ``<name>_tpl``: migrated, demo event loaded (once; reused)."""
    import psycopg

    name, admin_url = _db_parts(DATABASE_URL)
    tpl = f"{name}_tpl"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [tpl]).fetchone()
        # A template from another code version may lack migrations: keyed by
        # the migration files' names, stored in the template's comment.
        stamp = _migrations_stamp()
        if exists and not force:
            row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [tpl]).fetchone()
            if row and row[0] == stamp:
                return
        if exists:
            _terminate(tpl)
            conn.execute(f'DROP DATABASE "{tpl}"')
        conn.execute(f'CREATE DATABASE "{tpl}"')
    tpl_url = DATABASE_URL[: DATABASE_URL.rfind("/")] + "/" + tpl
    log(f"migrating the template database {tpl} (once)")
    env = server_env(database_url=tpl_url)
    # The workload is the baseline's registration on a free event: the demo's
    # ticket categories are switched off (a paid registration adds a ticket
    # step and a charge; docs/payments.md and issue 15's note give its cost).
    free_event = "from chatbot.models import TicketCategory; TicketCategory.objects.update(active=False)"
    for command in (["migrate", "--noinput", "-v", "0"], ["load_demo_event"], ["shell", "-c", free_event]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    _terminate(tpl)
    _admin_exec(f"COMMENT ON DATABASE \"{tpl}\" IS '{stamp}'")


def _migrations_stamp() -> str:
    import hashlib

    names = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("*/migrations/0*.py"))
    names.append(str((ROOT / "chatbot/management/commands/load_demo_event.py").stat().st_size))
    names.append("free-event")  # templates made before the categories were switched off are rebuilt
    return hashlib.sha1("\n".join(names).encode()).hexdigest()[:16]


def fresh_database() -> None:
    """Drop and re-create the bench database from the template; flush Redis."""
    name, _admin = _db_parts(DATABASE_URL)
    prepare_template()
    _terminate(name)
    _admin_exec(f'DROP DATABASE IF EXISTS "{name}"')
    _admin_exec(f'CREATE DATABASE "{name}" TEMPLATE "{name}_tpl"')
    flush_redis()


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def db_connect():
    import psycopg

    return psycopg.connect(DATABASE_URL, autocommit=True)


# --- processes ------------------------------------------------------------------------


def server_env(*, database_url: str = DATABASE_URL, **extra: object) -> dict[str, str]:
    """The environment of every server process: production settings on loopback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CELERY_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="congress.settings",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        ENV="prod",
        SECRET_KEY=SECRET_KEY,
        BOT_API_KEY=API_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="0",
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        GATEWAY_API_KEY=GATEWAY_KEY,
        OPENAI_API_KEY="",
        EMAIL_URL="consolemail://",
        LOG_LEVEL="INFO",
        # The fake gateway is not WhatsApp: measure our capacity, not the
        # per-number pacing (docs/benchmarks.md, "WhatsApp's limits").
        WA_SEND_RATE_PER_S="0",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Group:
    """Processes started by one benchmark, stopped together (reverse order)."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []

    def add(self, proc: Proc) -> Proc:
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.stop(timeout=10)
        self.procs.clear()


@contextlib.contextmanager
def processes() -> Iterator[Group]:
    group = Group()
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        yield group
    finally:
        group.stop()
        signal.signal(signal.SIGTERM, previous)


def _wait_http(url: str, timeout: float = 30.0) -> bool:
    import urllib.error
    import urllib.request

    def up() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    return wait_until(up, timeout=timeout, interval=0.1)


def start_proc(group: Group, name: str, args: list[str], env: dict[str, str], *, ready_url: str | None = None,
               ready_log: str | None = None, timeout: float = 60.0) -> Proc:
    proc = group.add(Proc(name, args, env=env).start())
    ok = True
    if ready_url:
        ok = _wait_http(ready_url, timeout)
    if ready_log:
        ok = proc.wait_for_log(ready_log, timeout=timeout)
    if not ok or not proc.alive:
        raise RuntimeError(f"{name} did not start:\n{proc.log()[-3000:]}")
    return proc


def start_fake_openai(group: Group, *, latency_ms: float) -> str:
    port = free_port()
    start_proc(group, "fake-openai", [sys.executable, "-m", "bench.fakes", "openai", "--port", str(port),
                                      "--latency-ms", str(latency_ms)], server_env(), ready_log="listening")
    return f"http://127.0.0.1:{port}/v1"


def start_fake_gateway(group: Group, *, record: Path) -> str:
    port = free_port()
    start_proc(group, "fake-gateway", [sys.executable, "-m", "bench.fakes", "gateway", "--port", str(port),
                                       "--record", str(record)], server_env(), ready_log="listening")
    return f"http://127.0.0.1:{port}"


def start_gunicorn(group: Group, env: dict[str, str], *, app: str = "congress.wsgi", workers: int = 2,
                   threads: int = 4) -> tuple[str, Proc]:
    port = free_port()
    proc = start_proc(
        group, "gunicorn",
        [str(BIN / "gunicorn"), app, "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--threads", str(threads), "--log-level", "warning", "--backlog", "2048", "--reuse-port"],
        env, ready_url=f"http://127.0.0.1:{port}/health",
    )
    return f"http://127.0.0.1:{port}", proc


def start_worker(group: Group, env: dict[str, str], *, pool: str = "prefork", concurrency: int = 2,
                 beat: bool = True, name: str = "w1", nice: int = 0) -> Proc:
    """``celery -A congress worker`` through ``bench.celery_app`` (the same app,
    plus a one-line record of when each message's processing starts); with
    ``nice``, at that lower CPU priority (the web keeps accepting under load)."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-celery-"))
    prefix = ["nice", "-n", str(nice)] if nice else []
    args = [*prefix, str(BIN / "celery"), "-A", "bench.celery_app", "worker", "--pool", pool,
            "--concurrency", str(concurrency), "--loglevel", "INFO", "--hostname", f"bench-{name}-{os.getpid()}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]
    if beat:
        args += ["--beat", "--schedule", str(scratch / "beat-schedule")]
    return start_proc(group, f"celery-{name}", args, env, ready_log=" ready.")


# --- workload ---------------------------------------------------------------------------


def cpf(n: int) -> str:
    """A valid CPF built from ``n`` (distinct n, distinct CPF; never all digits equal)."""
    base = [int(d) for d in f"{(n * 7919 + 100000003) % 10**9:09d}"]
    if len(set(base)) == 1:
        base[0] = (base[0] + 1) % 10
    for length in (9, 10):
        total = sum(d * w for d, w in zip(base, range(length + 1, 1, -1), strict=False))
        digit = (total * 10) % 11
        base.append(0 if digit == 10 else digit)
    return "".join(map(str, base))


QUESTIONS = [
    "Quando vai ser o congresso?",
    "Onde fica o evento?",
    "Quanto custa a inscrição?",
    "Tem estacionamento?",
    "Vou receber certificado?",
    "O almoço está incluído?",
    "Qual a programação de quarta?",
    "Tem hotel perto do evento?",
    "Estudante paga meia?",
    "Qual o e-mail de contato?",
]

OGG = b"OggS" + b"\x00" * 60 + b"bench voice note" * 8


def registration_script(user: int) -> list[str]:
    """A full registration (9 messages) of simulated user ``user``."""
    return [
        "quero me inscrever",
        "sim",
        f"Participante {_name(user)} Silva",
        f"bench.user{user}@exemplo.com.br",
        cpf(user),
        f"(43) 9{(user % 10**8):08d}",
        "Londrina",
        "2",
        "sim",
    ]


def _name(n: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = ""
    n += 26
    while n:
        n, r = divmod(n, 26)
        out = letters[r] + out
    return out.capitalize()


def user_script(user: int, rng: random.Random) -> list[str]:
    """Full registration and two questions (the /chat benchmark's user)."""
    return [*registration_script(user), rng.choice(QUESTIONS), rng.choice(QUESTIONS)]


@dataclass
class Message:
    chat: str
    text: str
    message_id: str
    audio: bool = False
    duplicate_of: str | None = None
    at: float = 0.0  # planned send offset (s)


@dataclass
class Workload:
    """The pipeline's mixed workload: chats that register (greeting, 9 steps,
    a question), chats that only ask (greeting, 3 questions), some voice
    notes (questions), and gateway re-deliveries (duplicates)."""

    messages: list[Message] = field(default_factory=list)

    @property
    def unique(self) -> int:
        return sum(1 for m in self.messages if m.duplicate_of is None)


def mixed_workload(*, rate: float, seconds: float, seed: int = 7, gap_s: float = 3.0, user_base: int = 0,
                   duplicate_share: float = 0.05, audio_share: float = 0.02) -> Workload:
    """``rate`` x ``seconds`` messages; each chat sends its next message
    ``gap_s`` after the previous one (a person reading the reply)."""
    rng = random.Random(seed)
    total = int(rate * seconds)
    active = max(1, int(rate * gap_s))  # chats talking at any moment
    scripts: list[list[tuple[str, bool]]] = []
    chats: list[str] = []
    next_user = [user_base]

    def new_chat() -> int:
        user = next_user[0]
        next_user[0] += 1
        if rng.random() < 0.5:
            script = [("oi", False)] + [(t, False) for t in registration_script(user)] + [(rng.choice(QUESTIONS), False)]
        else:
            script = [("oi", False)] + [(rng.choice(QUESTIONS), rng.random() < audio_share * 5) for _ in range(3)]
        scripts.append(script)
        chats.append(f"55439{user:08d}")
        return len(scripts) - 1

    slots = [new_chat() for _ in range(active)]
    positions = [0] * len(slots)
    out: list[Message] = []
    for i in range(total):
        slot = i % active
        chat = slots[slot]
        if positions[slot] >= len(scripts[chat]):
            slots[slot] = chat = new_chat()
            positions[slot] = 0
        text, audio = scripts[chat][positions[slot]]
        positions[slot] += 1
        msg = Message(chat=chats[chat], text="" if audio else text, audio=audio, message_id=f"BENCH{seed}-{i + 1:08d}",
                      at=i / rate)
        out.append(msg)
        if rng.random() < duplicate_share:
            out.append(Message(chat=msg.chat, text=msg.text, audio=audio, message_id=msg.message_id,
                               duplicate_of=msg.message_id, at=msg.at + rng.uniform(0.05, 1.0)))
    out.sort(key=lambda m: m.at)
    return Workload(messages=out)


def queued_body(msg: Message) -> dict:
    import base64

    body = {"message_id": msg.message_id, "number": msg.chat, "jid": f"{msg.chat}@s.whatsapp.net",
            "text": msg.text, "push_name": "Bench", "timestamp": int(time.time())}
    if msg.audio:
        body.update(audio_base64=base64.b64encode(OGG).decode(), mimetype="audio/ogg; codecs=opus")
    return body


# --- the load generator (a separate process) ----------------------------------------------


def run_loadgen(plan: dict, *, timeout: float, script: str = "loadgen.py", env: dict[str, str] | None = None) -> list[dict]:
    """Run ``bench/loadgen.py`` (or another load script) on ``plan``; its per-request records."""
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        plan_path, out_path = Path(tmp) / "plan.json", Path(tmp) / "out.jsonl"
        plan_path.write_text(json.dumps(plan))
        proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), str(plan_path), str(out_path)],
                              cwd=ROOT, timeout=timeout, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"load generator failed:\n{proc.stderr[-3000:]}")
        return [json.loads(line) for line in out_path.read_text().splitlines() if line]


def summarize_http(records: list[dict]) -> dict[str, float]:
    ok = [r for r in records if 200 <= r["status"] < 300]
    if not records:
        return {"requests": 0}
    start = min(r["start"] for r in records)
    end = max(r["start"] + r["latency"] for r in records)
    return {
        "requests": len(records),
        "errors": len(records) - len(ok),
        "rps": round(len(ok) / max(end - start, 1e-9), 1),
        **pcts([r["latency"] for r in ok]),
    }


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0
