"""GET /health: healthy, degraded when Redis is unreachable, 503 when the database is."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from congress.redis import get_redis

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_django(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with Django set up under ``env``."""
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "ENV", "BOT_API_KEY", "SECRET_KEY")}
    base.update(env)
    base["DJANGO_SETTINGS_MODULE"] = "congress.settings"
    prelude = "import django; django.setup()\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


HEALTH_PROBE = """
from django.test import Client
r = Client().get('/health')
import json; print(json.dumps({'code': r.status_code, 'body': r.json(), 'rid': r.headers.get('X-Request-ID')}))
"""


@pytest.mark.django_db
def test_health_is_healthy_with_database_and_redis(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["database"] == "ok"
    assert body["redis"] == ("ok" if get_redis() is not None else "disabled")
    assert response.headers["X-Request-ID"]


@pytest.mark.django_db
def test_health_is_degraded_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    get_redis.cache_clear()
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["redis"] == "error"


def test_health_answers_503_when_the_database_is_unreachable():
    result = run_django(HEALTH_PROBE, DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed_port()}/nope", DB_CONNECT_TIMEOUT_S="2")
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["code"] == 503
    assert out["body"]["status"] == "error"
    assert out["body"]["database"] == "error"


def test_the_embedded_default_boots_migrates_and_answers_health(tmp_path):
    db = tmp_path / "embedded.sqlite3"
    code = (
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n" + HEALTH_PROBE
    )
    result = run_django(code, DATABASE_URL=f"sqlite:///{db}")
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["code"] == 200
    assert out["body"] == {"status": "healthy", "database": "ok", "redis": "disabled", "llm": "offline", "queue": "eager"}


@pytest.mark.django_db
def test_the_callers_request_id_is_echoed_and_a_hostile_one_replaced(client):
    assert client.get("/health", HTTP_X_REQUEST_ID="abc-123").headers["X-Request-ID"] == "abc-123"
    replaced = client.get("/health", HTTP_X_REQUEST_ID="<script>" * 20).headers["X-Request-ID"]
    assert replaced != "<script>" * 20 and len(replaced) == 32


# --- the container health probe and ALLOWED_HOSTS ------------------------------
# Docker's health check curls http://127.0.0.1:8000/health inside the
# container (Host: 127.0.0.1:8000) while ALLOWED_HOSTS names the real domain.
CONTAINER_HOST = "127.0.0.1:8000"


@pytest.fixture
def production_hosts(settings):
    settings.ALLOWED_HOSTS = ["congresso.example.com"]
    settings.DEBUG = False


@pytest.mark.django_db
def test_the_container_probe_gets_200_with_a_host_outside_allowed_hosts(client, production_hosts):
    response = client.get("/health", HTTP_HOST=CONTAINER_HOST, REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response.headers["X-Request-ID"]


@pytest.mark.django_db
def test_the_probe_works_from_ipv6_loopback_too(client, production_hosts):
    assert client.get("/health", HTTP_HOST="[::1]:8000", REMOTE_ADDR="::1").status_code == 200


@pytest.mark.django_db
def test_the_same_host_on_any_other_path_is_still_400(client, production_hosts):
    for path in ("/api/schema/", "/admin/login/", "/healthz", "/health/"):
        assert client.get(path, HTTP_HOST=CONTAINER_HOST, REMOTE_ADDR="127.0.0.1").status_code == 400, path


@pytest.mark.django_db
def test_health_from_outside_with_a_foreign_host_is_still_400(client, production_hosts):
    # Through the reverse proxy: another container's address.
    assert client.get("/health", HTTP_HOST="evil.example", REMOTE_ADDR="172.18.0.5").status_code == 400


@pytest.mark.django_db
def test_health_relayed_by_a_proxy_on_loopback_with_a_foreign_host_is_still_400(client, production_hosts):
    response = client.get("/health", HTTP_HOST="evil.example", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert response.status_code == 400


@pytest.mark.django_db
def test_a_post_to_health_from_loopback_gets_no_shortcut(client, production_hosts):
    assert client.post("/health", HTTP_HOST=CONTAINER_HOST, REMOTE_ADDR="127.0.0.1").status_code == 400


@pytest.mark.django_db
def test_health_through_the_proxy_with_the_real_domain_is_answered_normally(client, production_hosts):
    response = client.get("/health", HTTP_HOST="congresso.example.com", REMOTE_ADDR="172.18.0.5")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
