"""Production settings: refuse to start without secrets; check --deploy is clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROD_ENV = {
    "ENV": "prod",
    "SECRET_KEY": "x7#k2!p9@q4$w8%e3^r6&t1*y5(u0)i-o=p+a_s[d]f{g}h|j;k:l'z,x.c<v>b/n?m",
    "BOT_API_KEY": "a-long-random-api-key-for-the-gateway",
    "ALLOWED_HOSTS": "bot.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://bot.example.org",
    "USE_X_FORWARDED_PROTO": "true",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("ENV", "SECRET_KEY", "BOT_API_KEY")}
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "BOT_API_KEY"])
def test_prod_refuses_to_start_without_a_required_secret(missing):
    env = {k: v for k, v in PROD_ENV.items() if k != missing}
    result = manage("check", **env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_prod_refuses_a_short_secret_key():
    result = manage("check", **{**PROD_ENV, "SECRET_KEY": "short"})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_check_deploy_is_clean_with_production_variables():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PROD_ENV)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_an_unknown_env_value_fails_loudly():
    result = manage("check", ENV="production")
    assert result.returncode != 0
    assert "ENV must be" in result.stderr


def test_every_model_change_has_a_migration():
    result = manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
