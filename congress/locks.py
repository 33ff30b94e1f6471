"""Per-conversation locks.

One short lock per chat, with an owner token and a TTL (pretix's discipline):
Redis when ``REDIS_URL`` is set; when Redis is unreachable, a PostgreSQL
advisory lock, so the bot keeps answering; in-process on the embedded default.

Usage::

    with conversation_lock("5561999990000") as lock:
        ...            # lock.token identifies this holder
        lock.extend()  # renew the TTL before a long step

Raises ``LockTimeout`` when the lock cannot be had within ``wait`` seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Self

import redis
from django.conf import settings
from django.db import connection

from congress.errors import CongressError
from congress.redis import get_redis, mark_redis_down, redis_usable

logger = logging.getLogger(__name__)

# Release/extend only when we still own the lock (compare-and-delete).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


class LockTimeout(CongressError):
    transient = True


class LockLost(CongressError):
    """The TTL expired and someone else took the lock: stop writing."""

    transient = True


@dataclass
class Lock:
    key: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    backend: str = "memory"

    def extend(self) -> None:
        """Renew the TTL; raise ``LockLost`` when another holder has it now."""
        if self.backend != "redis":
            return
        client = get_redis()
        try:
            ok = client.eval(_EXTEND, 1, self.key, self.token, int(settings.LOCK_TTL_SECONDS * 1000))
        except redis.RedisError:
            return  # Redis went away: the lock cannot be stolen through it either.
        if not ok:
            raise LockLost(f"lock {self.key} lost")

    def still_held(self) -> bool:
        if self.backend != "redis":
            return True
        try:
            value = get_redis().get(self.key)
        except redis.RedisError:
            return True
        return value is not None and value.decode() == self.token


class LockKeeper:
    """Renews a lock in the background while a long step runs.

    An engine turn may wait on the LLM longer than LOCK_TTL_SECONDS (20 s x 4
    attempts at the defaults); renewing every TTL/3 keeps the lock for as
    long as its holder lives, while a holder that dies loses it within one
    TTL. ``lost`` turns True when another holder took the lock meanwhile.

    One renewer thread per process serves every keeper (``_Renewer``): most
    turns last milliseconds, and starting and joining a thread for each cost
    more than the turn's own lock work.
    """

    def __init__(self, lock: Lock) -> None:
        self.lock = lock
        self.lost = False
        self.interval = max(0.2, settings.LOCK_TTL_SECONDS / 3)

    def held(self) -> bool:
        return not self.lost and self.lock.still_held()

    def __enter__(self) -> Self:
        if self.lock.backend == "redis":
            _renewer.add(self)
        return self

    def __exit__(self, *exc_info) -> None:
        if self.lock.backend == "redis":
            _renewer.remove(self)


class _Renewer:
    """The process's one lock-renewing thread (started on first use, and again
    in a forked child, which does not inherit threads)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[int, tuple[LockKeeper, float]] = {}
        self._thread: threading.Thread | None = None
        self._pid = 0

    def add(self, keeper: LockKeeper) -> None:
        with self._cond:
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                self._pid = os.getpid()
                self._due = {}
                self._thread = threading.Thread(target=self._run, name="lock-renewer", daemon=True)
                self._thread.start()
            self._due[id(keeper)] = (keeper, time.monotonic() + keeper.interval)
            self._cond.notify()

    def remove(self, keeper: LockKeeper) -> None:
        with self._cond:
            self._due.pop(id(keeper), None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = [keeper for keeper, at in self._due.values() if at <= now]
                for keeper in due:
                    self._due[id(keeper)] = (keeper, now + keeper.interval)
                if not due:
                    soonest = min((at for _keeper, at in self._due.values()), default=now + 60)
                    self._cond.wait(timeout=max(0.01, soonest - now))
                    continue
            for keeper in due:
                # Outside the condition: a slow Redis must not block add/remove.
                # A keeper removed meanwhile renews nothing: extend() only
                # touches a lock still holding its token.
                try:
                    keeper.lock.extend()
                except LockLost:
                    keeper.lost = True
                    self.remove(keeper)
                except Exception:  # never let the renewer die
                    logger.exception("Renewing lock %s failed", keeper.lock.key)


_renewer = _Renewer()
# A forked child (prefork pool, gunicorn worker) starts with a fresh renewer:
# it has no thread, and the condition may have been held at the fork.
os.register_at_fork(after_in_child=_renewer._reset)


_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


def _lock_key(name: str) -> str:
    return f"congress:lock:{name}"


def redis_acquire(key: str, token: str, *, wait: float) -> bool:
    client = get_redis()
    deadline = time.monotonic() + wait
    delay = 0.005
    while True:
        if client.set(key, token, nx=True, px=int(settings.LOCK_TTL_SECONDS * 1000)):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def redis_release(key: str, token: str) -> bool:
    try:
        return bool(get_redis().eval(_RELEASE, 1, key, token))
    except redis.RedisError:
        logger.warning("Could not release lock %s: Redis unreachable (it expires by itself)", key)
        return False


def _advisory_id(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


@contextlib.contextmanager
def _pg_advisory(key: str, wait: float) -> Iterator[None]:
    lock_id = _advisory_id(key)
    deadline = time.monotonic() + wait
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_id])
            if cursor.fetchone()[0]:
                break
            if time.monotonic() >= deadline:
                raise LockTimeout(f"lock {key} busy")
            time.sleep(0.02)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])


@contextlib.contextmanager
def _memory(key: str, wait: float) -> Iterator[None]:
    with _local_guard:
        lock = _local_locks.setdefault(key, threading.Lock())
    if not lock.acquire(timeout=wait):
        raise LockTimeout(f"lock {key} busy")
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def conversation_lock(name: str, *, wait: float | None = None) -> Iterator[Lock]:
    """Hold the lock of conversation ``name`` for the duration of the block."""
    wait = settings.LOCK_TTL_SECONDS if wait is None else wait
    key = _lock_key(name)
    lock = Lock(key=key)
    if redis_usable() is not None:
        try:
            acquired = redis_acquire(key, lock.token, wait=wait)
        except redis.RedisError:
            mark_redis_down()
            logger.warning("Redis unreachable: falling back to a database lock for %s", key)
        else:
            if not acquired:
                raise LockTimeout(f"lock {key} busy")
            lock.backend = "redis"
            try:
                # Renewed while held: an LLM call may outlast LOCK_TTL_SECONDS.
                with LockKeeper(lock):
                    yield lock
            finally:
                redis_release(key, lock.token)
            return
    if connection.vendor == "postgresql":
        lock.backend = "postgres"
        with _pg_advisory(key, wait):
            yield lock
        return
    with _memory(key, wait):
        yield lock


def try_conversation_lock(name: str) -> Lock | None:
    """Take the Redis lock without waiting; None when another holder has it.

    For the pipeline's drain task, which must return at once when busy. The
    caller releases with ``release_lock``. Raises ``redis.RedisError`` when
    Redis is configured but unreachable (the task retries later).
    """
    key = _lock_key(name)
    if get_redis() is None:
        # Embedded default (eager Celery, no Redis): an in-process lock, the
        # same one conversation_lock() takes there.
        with _local_guard:
            local = _local_locks.setdefault(key, threading.Lock())
        return Lock(key=key, backend="memory") if local.acquire(blocking=False) else None
    lock = Lock(key=key, backend="redis")
    if redis_acquire(key, lock.token, wait=0):
        return lock
    return None


def lock_is_held(name: str) -> bool:
    """Whether someone holds ``name``'s Redis lock now (False without Redis)."""
    client = get_redis()
    if client is None:
        return False
    try:
        return bool(client.exists(_lock_key(name)))
    except redis.RedisError:
        return False


def release_lock(lock: Lock) -> bool:
    """Release only if still the owner; False when the lock had expired or been taken."""
    if lock.backend == "memory":
        _local_locks[lock.key].release()
        return True
    if lock.backend != "redis":
        return True
    return redis_release(lock.key, lock.token)
