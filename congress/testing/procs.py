"""Start, stop, pause and SIGKILL real server processes for fault tests and
benchmarks: a private ``redis-server`` on a spare port, a ``celery -A
congress worker`` and a gunicorn web process, each in its own process group
so a kill takes its children too. They never touch the shared services.

    redis_server = start_redis()
    worker = start_celery_worker(env=child_env(redis_url=redis_server.url(), database_url=...))
    worker.kill()            # SIGKILL, mid-work
    redis_server.restart()   # same port, empty (no persistence)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent.parent
_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true; False when ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def database_url_for_children() -> str:
    """The current Django database (the test database under pytest) as a URL."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError("child processes need PostgreSQL")
    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def child_env(*, database_url: str, redis_url: str, **extra: str | float) -> dict[str, str]:
    """Environment for a child process: ours, with the given services."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CELERY_BROKER_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="congress.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        PYTHONUNBUFFERED="1",
        # Each message answered on its own, as the pipeline tests expect;
        # the burst tests pass WA_DEBOUNCE_MS themselves.
        WA_DEBOUNCE_MS="0",
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


class Proc:
    """A child process in its own process group, its output in a log file."""

    def __init__(self, name: str, args: list[str], *, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self.popen: subprocess.Popen | None = None

    def start(self) -> Proc:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.popen = subprocess.Popen(
            self.args, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _signal_group(self, sig: int) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole group: no clean-up, no acks, locks left behind."""
        self._signal_group(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the main process (a warm shutdown: a Celery worker lets
        its children finish their tasks), then SIGKILL if it is not gone in
        time. The log file is removed unless KEEP_PROC_LOGS is set."""
        if not self.alive:
            self._signal_group(signal.SIGKILL)  # stray children of a dead parent
            if not os.environ.get("KEEP_PROC_LOGS"):
                self.log_path.unlink(missing_ok=True)
            return
        self._signal_group(signal.SIGCONT)  # a paused process cannot shut down
        self.popen.terminate()
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._signal_group(signal.SIGKILL)
        if not os.environ.get("KEEP_PROC_LOGS"):  # set it to read them after a failure
            self.log_path.unlink(missing_ok=True)

    def pause(self) -> None:
        self._signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_group(signal.SIGCONT)

    def wait_for_log(self, needle: str, *, timeout: float) -> bool:
        return wait_until(lambda: needle in self.log() or not self.alive, timeout=timeout, interval=0.1) and needle in self.log()


class RedisServer(Proc):
    def __init__(self, port: int) -> None:
        self.port = port
        super().__init__(
            f"redis-{port}",
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        )

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> RedisServer:
        super().start()
        if not wait_until(self.ping, timeout=10):
            raise RuntimeError(f"redis-server on port {self.port} did not start:\n{self.log()}")
        return self

    def restart(self, *, downtime: float = 0.0) -> None:
        """Kill and start again on the same port, empty (no persistence)."""
        self.kill()
        time.sleep(downtime)
        self.start()


def start_redis(port: int | None = None) -> RedisServer:
    return RedisServer(port or free_port()).start()


class CeleryWorker(Proc):
    scratch: Path | None = None  # the beat schedule lives here

    def stop(self, timeout: float = 15.0) -> None:
        super().stop(timeout)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def start(self, *, ready_timeout: float = 60.0) -> CeleryWorker:
        self.log_path.write_text("")
        super().start()
        if not self.wait_for_log(" ready.", timeout=ready_timeout):
            tail = self.log()[-3000:]
            self.kill()
            raise RuntimeError(f"celery worker did not become ready:\n{tail}")
        return self


def start_celery_worker(
    *, env: dict[str, str], concurrency: int = 2, beat: bool = True, patches: dict[str, object] | None = None
) -> CeleryWorker:
    """``celery -A congress worker`` (with the beat scheduler when ``beat``).

    The worker logs at INFO: its " ready." line is how we know it started.
    ``patches`` (``{"module.CONSTANT": value}``) override module constants in
    the worker before it forks (see ``congress.testing.celery_main``).
    """
    if patches:
        import json

        command = [sys.executable, "-m", "congress.testing.celery_main"]
        env = {**env, "CONGRESS_TEST_PATCHES": json.dumps(patches)}
    else:
        command = [str(_BIN / "celery")]
    args = [
        *command, "-A", "congress", "worker",
        "--pool", "prefork", "--concurrency", str(concurrency), "--loglevel", "INFO",
        "--hostname", f"test-{uuid.uuid4().hex[:8]}@%h",
        # Gossip/mingle/heartbeat only slow a private test worker down.
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]
    scratch = Path(tempfile.mkdtemp(prefix="celery-worker-"))
    if beat:
        args += ["--beat", "--schedule", str(scratch / "beat-schedule")]
    worker = CeleryWorker("celery-worker", args, env=env)
    worker.scratch = scratch
    return worker.start()


class WebServer(Proc):
    def __init__(self, port: int, env: dict[str, str], workers: int) -> None:
        self.port = port
        super().__init__(
            "gunicorn",
            [str(_BIN / "gunicorn"), "congress.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
             "--threads", "4", "--log-level", "warning"],
            env=env,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=1) as response:
                return response.status in (200, 503)
        except OSError:
            return False

    def start(self) -> WebServer:
        super().start()
        if not wait_until(self._healthy, timeout=30, interval=0.1):
            tail = self.log()[-3000:]
            self.kill()
            raise RuntimeError(f"gunicorn did not start:\n{tail}")
        return self


def start_web(*, env: dict[str, str], workers: int = 2) -> WebServer:
    """gunicorn serving congress.wsgi on a spare port."""
    return WebServer(free_port(), env, workers).start()
