"""What every fault scenario shares: a private stack of real processes, a
load that talks to it the way a WhatsApp gateway does, and the ledger that
checks the pass criteria.

The stack (``Stack``): a private ``redis-server`` on a spare port (broker,
locks, cache), gunicorn serving the app, one or more ``celery -A congress
worker --beat`` processes, and a fake ``/send-text`` in this process. The
children use the test database (or whatever ``database_url`` says, e.g. a
proxy that can be cut); the shared services on 5432/6379 are never stopped.

The load (``GatewayLoad``): each chat is a participant going through the
registration, with event questions in between, one message at a time; every
message carries a WhatsApp ``message_id`` and is POSTed to ``/whatsapp`` (the
queued shape) until it is accepted (202) or known (200 duplicate), retrying
a refused POST (5xx, connection error) with the same id, as a gateway does.

The ledger (``Ledger``): counts from PostgreSQL and from the fake gateway,
printed on one line and asserted:

* nothing accepted is lost: every accepted message is answered and its reply
  delivered, each chat's messages in the order they were sent;
* no participant is duplicated: one ``Participant`` per completed chat;
* at most one reply per message, except the in-flight window: a reply whose
  POST to the gateway succeeded but whose "sent" mark did not commit (the
  worker was killed, or lost PostgreSQL, between the two) is POSTed again,
  with the same ``Idempotency-Key`` (``outbound-<id>``) so a gateway can drop
  it. At most one send is in flight per worker child, so each fault adds at
  most ``concurrency`` such repeats; scenarios assert that bound.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from django.db import connection
from django.db.models import Count

from chatbot.models import ConversationState
from congress.testing.factories import make_cpf
from congress.testing.fake_gateway import FakeGateway
from congress.testing.procs import (
    CeleryWorker,
    RedisServer,
    WebServer,
    child_env,
    database_url_for_children,
    start_celery_worker,
    start_redis,
    start_web,
    wait_until,
)
from registrations.models import Participant
from whatsapp.models import InboundMessage, MessageEvent, OutboundMessage

GATEWAY_KEY = "resilience-gateway-key-0123456789"
SWEEP_INTERVAL_S = 0.5
LOCK_TTL_S = 3
# Generous: a deadline only bounds a failing run, nothing asserts on time.
DEADLINE_S = 150

QUESTION = "onde vai ser o evento?"
_FIRST = ("Ana", "Bruno", "Carla", "Diego", "Elisa", "Fabio", "Gabriela", "Heitor", "Iara", "Joao", "Karina", "Lucas")
_LAST = ("Souza", "Lima", "Pereira", "Costa", "Almeida", "Ribeiro", "Carvalho", "Gomes", "Martins", "Rocha")


# --- the stack ---------------------------------------------------------------------


def worker_env(*, database_url: str, redis_url: str, gateway_url: str, **extra: str | float) -> dict[str, str]:
    """Child environment with short TTLs and backoffs, so faults heal in seconds."""
    values: dict[str, str | float] = dict(
        GATEWAY_URL=gateway_url,
        GATEWAY_API_KEY=GATEWAY_KEY,
        GATEWAY_TIMEOUT_S=3,
        BOT_API_KEY="",
        OPENAI_API_KEY="",
        THROTTLE_CONVERSATION_RATE="",
        THROTTLE_ANON_IP_RATE="",
        LOCK_TTL_SECONDS=LOCK_TTL_S,
        WA_SWEEP_INTERVAL_S=SWEEP_INTERVAL_S,
        WA_SWEEP_AGE_S=1,
        WA_RETRY_BACKOFF_S=0.1,
        WA_RETRY_BACKOFF_MAX_S=0.5,
        WA_SEND_MAX_ATTEMPTS=1000,
        WA_PROCESS_MAX_ATTEMPTS=30,
        DB_CONNECT_TIMEOUT_S=2,
        # Production keeps connections (CONN_MAX_AGE=60): a fault must find
        # them open and broken, not conveniently closed after every task.
        CONN_MAX_AGE=60,
        LOG_LEVEL="INFO",
        EMAIL_URL="consolemail://",
    )
    values.update(extra)
    return child_env(database_url=database_url, redis_url=redis_url, **values)


@dataclass
class Stack:
    gateway: FakeGateway
    redis: RedisServer
    env: dict[str, str]
    web: WebServer | None = None
    workers: list[CeleryWorker] = field(default_factory=list)

    def start_web(self, *, workers: int = 2) -> WebServer:
        self.web = start_web(env=self.env, workers=workers)
        return self.web

    def start_worker(
        self, *, concurrency: int = 2, beat: bool = True, patches: dict | None = None, **env
    ) -> CeleryWorker:
        worker = start_celery_worker(
            env={**self.env, **{k: str(v) for k, v in env.items()}}, concurrency=concurrency, beat=beat, patches=patches
        )
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for worker in self.workers:
            # No warm shutdown at teardown: the test is over, and a worker
            # waiting for its tasks only makes the suite slower.
            worker.kill()
            worker.stop()
        if self.web is not None:
            self.web.stop()
        self.redis.stop()
        self.gateway.stop()

    def redis_client(self):
        import redis

        return redis.Redis.from_url(self.redis.url(), socket_timeout=2)


def database_url_through(proxy_port: int) -> str:
    """The test database's URL, reached through a local proxy on ``proxy_port``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(database_url_for_children())
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{proxy_port}"))


def database_address() -> tuple[str, int]:
    settings_dict = connection.settings_dict
    return settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432)


def build_stack(*, database_url: str | None = None, **env: str | float) -> Stack:
    gateway = FakeGateway(api_key=GATEWAY_KEY).start()
    redis_server = start_redis()
    environment = worker_env(
        database_url=database_url or database_url_for_children(),
        redis_url=redis_server.url(),
        gateway_url=gateway.url,
        **env,
    )
    return Stack(gateway=gateway, redis=redis_server, env=environment)


# --- the load -------------------------------------------------------------------------


def chat_number(n: int, *, base: int = 0) -> str:
    return f"55439{base + n:08d}"


def registration_script(n: int, *, questions: int = 0, question: str = QUESTION) -> list[str]:
    """A participant's messages, from "quero me inscrever" to the confirmation;
    ``questions`` event questions (``question``) are asked along the way (each
    answered, then the pending step asked again)."""
    nine = f"{(n * 7_919_113 + 123_456_789) % 10**9:09d}"
    steps = [
        "quero me inscrever",
        "sim",
        f"{_FIRST[n % len(_FIRST)]} {_LAST[(n // len(_FIRST)) % len(_LAST)]} Resiliente",
        f"resiliente{n}@example.com",
        make_cpf(nine),
        f"(43) 99{n % 1000:03d}-{n % 10000:04d}",
        "londrina",
        "sou produtor rural",
        "sim",
    ]
    # A question while the bot waits for the name, the CPF, the city...:
    # answered, then the pending step is asked again.
    for position in sorted((2, 4, 6, 8, 3, 5, 7)[:questions], reverse=True):
        steps.insert(position, question)
    return steps


def queued_body(*, chat: str, message_id: str, text: str) -> dict:
    return {
        "message_id": message_id,
        "number": chat,
        "jid": f"{chat}@s.whatsapp.net",
        "text": text,
        "push_name": "Participante",
        "timestamp": int(time.time()),
        "audio_base64": None,
        "mimetype": None,
    }


class GatewayLoad:
    """POSTs messages to ``/whatsapp`` as a gateway does, and remembers the answers."""

    def __init__(self, base_url: str, *, retry_interval: float = 0.5, deadline: float = DEADLINE_S) -> None:
        self.url = base_url.rstrip("/") + "/whatsapp"
        self.retry_interval = retry_interval
        self.deadline = deadline
        self.statuses: Counter[str] = Counter()  # every HTTP answer (or "conn-error")
        self.final: dict[str, int] = {}  # message_id -> 202 or 200
        self.sent_order: dict[str, list[str]] = defaultdict(list)  # chat -> message texts in sending order
        self.gave_up: list[str] = []
        self._guard = threading.Lock()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def post(self, body: dict) -> int:
        """Until accepted (202) or known (200); 5xx and connection errors are retried."""
        stop = time.monotonic() + self.deadline
        while True:
            try:
                status = self._session().post(self.url, json=body, timeout=10).status_code
                label = str(status)
            except requests.RequestException:
                self._local.session = None
                status, label = 0, "conn-error"
            with self._guard:
                self.statuses[label] += 1
            if status in (200, 202):
                with self._guard:
                    # A 202 wins over a 200: the 202 is the accept, the rest are retries.
                    if self.final.get(body["message_id"]) != 202:
                        self.final[body["message_id"]] = status
                return status
            if 400 <= status < 500 or time.monotonic() > stop:
                with self._guard:
                    self.gave_up.append(body["message_id"])
                return status
            time.sleep(self.retry_interval)

    def run_chat(self, chat: str, texts: list[str], *, gap_s: float = 0.0, copies: int = 1) -> None:
        """Send one chat's messages in order, message k at ``k * gap_s`` (or at
        once when late: a gateway catching up after an outage); each one
        ``copies`` times at once (a gateway that delivers everything several
        times)."""
        started = time.monotonic()
        for index, text in enumerate(texts):
            time.sleep(max(0.0, started + index * gap_s - time.monotonic()))
            body = queued_body(chat=chat, message_id=f"{chat}-{index:03d}", text=text)
            with self._guard:
                self.sent_order[chat].append(text)
            if copies == 1:
                self.post(body)
            else:
                with ThreadPoolExecutor(max_workers=copies) as pool:
                    list(pool.map(self.post, [body] * copies))

    def run(self, scripts: dict[str, list[str]], *, gap_s: float = 0.0, copies: int = 1) -> None:
        """All chats in parallel; returns when every message was accepted."""
        with ThreadPoolExecutor(max_workers=len(scripts)) as pool:
            futures = [
                pool.submit(self.run_chat, chat, texts, gap_s=gap_s, copies=copies) for chat, texts in scripts.items()
            ]
            for future in futures:
                future.result()

    def start(self, scripts: dict[str, list[str]], **kwargs) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(scripts,), kwargs=kwargs, daemon=True)
        thread.start()
        return thread

    @property
    def accepted(self) -> set[str]:
        with self._guard:
            return set(self.final)

    @property
    def refused(self) -> int:
        """POSTs answered with a 5xx or not answered at all (then retried)."""
        with self._guard:
            return sum(n for label, n in self.statuses.items() if label == "conn-error" or label.startswith("5"))


# --- the ledger ---------------------------------------------------------------------------


def _fresh_queries() -> None:
    # Children wrote meanwhile; this process must not read an old snapshot.
    connection.close()


def pipeline_settled(expected: int) -> bool:
    _fresh_queries()
    return (
        InboundMessage.objects.exclude(status=InboundMessage.Status.PENDING).count() == expected
        and not OutboundMessage.objects.filter(status=OutboundMessage.Status.PENDING).exists()
    )


def wait_for_pipeline(expected: int, gateway: FakeGateway, *, timeout: float = DEADLINE_S) -> bool:
    """Every one of ``expected`` messages answered and every reply delivered;
    then a few sweeps more, for a straggler (a duplicate task) to show itself."""
    ok = wait_until(lambda: pipeline_settled(expected), timeout=timeout, interval=0.25)
    time.sleep(SWEEP_INTERVAL_S * 4)
    return ok


@dataclass
class Ledger:
    name: str
    counts: dict[str, int]
    lost: list[str]
    out_of_order: list[str]
    duplicated_participants: list[str]
    incomplete_chats: list[str]

    def line(self) -> str:
        return f"resilience[{self.name}]: " + " ".join(f"{key}={value}" for key, value in self.counts.items())

    def __getitem__(self, key: str) -> int:
        return self.counts[key]


def take_ledger(
    name: str,
    *,
    load: GatewayLoad,
    gateway: FakeGateway,
    registrations: Iterable[str] = (),
    extra: dict[str, int] | None = None,
) -> Ledger:
    """Count what happened and print it on one line (pytest shows it with -s or on failure)."""
    _fresh_queries()
    accepted = load.accepted
    inbound = {m.message_id: m for m in InboundMessage.objects.filter(message_id__in=accepted)}
    outbound = list(
        OutboundMessage.objects.all().values("pk", "inbound__message_id", "chat_id", "inbound_id", "status", "kind")
    )
    replies_per_message = Counter(row["inbound__message_id"] for row in outbound)
    delivered = gateway.delivered()
    keys = [r.headers.get("idempotency-key", "") for r in delivered]
    key_counts = Counter(keys)
    outbound_keys = {f"outbound-{row['pk']}": row for row in outbound}

    lost = sorted(
        mid
        for mid in accepted
        if mid not in inbound
        or inbound[mid].status != InboundMessage.Status.DONE
        or replies_per_message[mid] != 1
        or not any(key_counts[f"outbound-{row['pk']}"] for row in outbound if row["inbound__message_id"] == mid)
    )

    # Order: each chat's replies reached the gateway in the order of its
    # messages, and its conversation saw them in the order they were sent.
    out_of_order = []
    first_delivery: dict[str, list[int]] = defaultdict(list)
    seen: set[str] = set()
    for key in keys:
        if key in seen or key not in outbound_keys:
            continue
        seen.add(key)
        row = outbound_keys[key]
        first_delivery[row["chat_id"]].append(row["inbound_id"])
    for chat, inbound_ids in first_delivery.items():
        if inbound_ids != sorted(inbound_ids):
            out_of_order.append(chat)
    states = {s.conversation_id: s for s in ConversationState.objects.filter(conversation_id__in=list(load.sent_order))}
    for chat, texts in load.sent_order.items():
        state = states.get(chat)
        seen_texts = [t["text"] for t in (state.history if state else []) if t["role"] == "user"]
        # History keeps the last SESSION_MAX_STORED_TURNS turns: compare the tail.
        if seen_texts != [t.strip() for t in texts][-len(seen_texts) :] or (state and state.turns != len(texts)):
            out_of_order.append(chat)

    duplicated, incomplete = [], []
    for chat in registrations:
        count = Participant.objects.filter(conversation__conversation_id=chat).count()
        if count > 1:
            duplicated.append(chat)
        if count == 0 or states.get(chat) is None or states[chat].registration_step != "completed":
            incomplete.append(chat)
    cpf_dupes = Participant.objects.values("cpf").annotate(n=Count("id")).filter(n__gt=1).count()

    counts = {
        "messages": len(load.final) + len(load.gave_up),
        "posts": sum(load.statuses.values()),
        "accepted": sum(1 for s in load.final.values() if s == 202),
        "known_200": sum(1 for s in load.final.values() if s == 200),
        "duplicate_posts": load.statuses.get("200", 0),
        "refused_posts": load.refused,
        "gave_up": len(load.gave_up),
        "done": sum(1 for m in inbound.values() if m.status == InboundMessage.Status.DONE),
        "failed": sum(1 for m in inbound.values() if m.status == InboundMessage.Status.FAILED),
        "pending": sum(1 for m in inbound.values() if m.status == InboundMessage.Status.PENDING),
        "replies": len(outbound),
        "apologies": sum(1 for row in outbound if row["kind"] == OutboundMessage.Kind.APOLOGY),
        "delivered": len(delivered),
        "repeated_deliveries": len(keys) - len(key_counts),
        "lost": len(lost),
        "out_of_order": len(out_of_order),
        "participants": Participant.objects.count(),
        "duplicated_participants": len(duplicated) + cpf_dupes,
        "incomplete_registrations": len(incomplete),
        "retry_events": MessageEvent.objects.filter(kind=MessageEvent.Kind.RETRY).count(),
        "max_attempts": max((m.attempts for m in inbound.values()), default=0),
    }
    counts.update(extra or {})
    ledger = Ledger(
        name=name,
        counts=counts,
        lost=lost,
        out_of_order=out_of_order,
        duplicated_participants=duplicated,
        incomplete_chats=incomplete,
    )
    print(ledger.line(), flush=True)
    return ledger


def assert_guarantees(ledger: Ledger, *, max_repeats: int) -> None:
    """The pass criteria shared by every scenario."""
    assert ledger["gave_up"] == 0, "a message was never accepted"
    assert ledger.lost == [], f"accepted but not answered and delivered exactly once: {ledger.lost[:5]}"
    assert ledger["failed"] == 0, "a message ended failed (apology) instead of answered"
    assert ledger.out_of_order == [], f"chats answered out of order: {ledger.out_of_order[:5]}"
    assert ledger.duplicated_participants == [] and ledger["duplicated_participants"] == 0
    assert ledger.incomplete_chats == [], f"registrations not completed: {ledger.incomplete_chats[:5]}"
    assert ledger["repeated_deliveries"] <= max_repeats, ledger.line()
