"""Production settings: refuse to start without real secrets; check --deploy is clean; .env.example loads."""

from __future__ import annotations

import json
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
    "ALLOWED_HOSTS": "congresso.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://congresso.example.com",
    "USE_X_FORWARDED_PROTO": "true",
    "EMAIL_URL": "smtp+tls://bot:a-real-smtp-password@smtp.example.com.br:587",
}


ENV_EXAMPLE = ROOT / ".env.example"
# Variables .env.example sets that a test run must not inherit from the caller.
CLEARED = (
    "ENV", "SECRET_KEY", "BOT_API_KEY", "GATEWAY_API_KEY", "POSTGRES_PASSWORD", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS",
    "EMAIL_URL", "EMAIL_BACKEND", "DEFAULT_FROM_EMAIL",
)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
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


# --- placeholders ----------------------------------------------------------------


def example_values() -> dict[str, str]:
    """.env.example as django-environ reads a .env file."""
    import environ

    class ExampleEnv(environ.Env):
        ENVIRON: dict[str, str] = {}

    ExampleEnv.read_env(ENV_EXAMPLE)
    return dict(ExampleEnv.ENVIRON)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SECRET_KEY", "change-me-" + "q" * 60),
        ("SECRET_KEY", example_values()["SECRET_KEY"]),
        ("BOT_API_KEY", "change-me-long-random-api-key"),
        ("BOT_API_KEY", "Change-Me-please-0123456789"),
        ("GATEWAY_API_KEY", "change-me-gateway"),
        ("POSTGRES_PASSWORD", example_values()["POSTGRES_PASSWORD"]),
        ("DATABASE_URL", "postgres://congress:change-me-database-password@127.0.0.1:5432/congress"),
        ("ALLOWED_HOSTS", example_values()["ALLOWED_HOSTS"]),
        ("ALLOWED_HOSTS", "congresso.example.com," + example_values()["ALLOWED_HOSTS"]),
        ("CSRF_TRUSTED_ORIGINS", example_values()["CSRF_TRUSTED_ORIGINS"]),
    ],
    ids=[
        "secret-key-change-me",
        "secret-key-from-example",
        "api-key-example",
        "api-key-any-case",
        "gateway-key",
        "postgres-password",
        "database-url-password",
        "example-domain",
        "example-domain-among-others",
        "example-origin",
    ],
)
def test_prod_refuses_a_placeholder_naming_the_variable_but_not_the_value(variable, value):
    result = manage("check", **{**PROD_ENV, variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.splitlines()[-1]
    if variable not in ("ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS"):
        assert value not in result.stderr
        if variable == "DATABASE_URL":
            assert "change-me-database-password" not in result.stderr


def test_every_value_in_env_example_counts_as_a_placeholder():
    from congress.settings import is_placeholder

    values = [value for value in example_values().values() if value]
    assert values and all(is_placeholder(value) for value in values)
    assert not is_placeholder("x7Kq2p9q4w8e3r6t1y5u0io-pas_dfghjklzxcvbnm0123456789AB")


def test_an_unedited_copy_of_env_example_is_refused_with_a_hint_for_developers():
    # A newcomer who runs `cp .env.example .env` in a dev checkout gets this at
    # the first command instead of a 400 on every request.
    result = manage("check", **example_values())
    assert result.returncode != 0
    message = result.stderr.splitlines()[-1]
    for variable in ("SECRET_KEY", "BOT_API_KEY", "POSTGRES_PASSWORD", "ALLOWED_HOSTS"):
        assert variable in message
    assert "ENV=dev" in message and "no .env" in message
    assert "change-me" not in message.split("start with", 1)[0]


def test_runserver_with_env_prod_warns_that_local_requests_will_get_400():
    result = manage("runserver", "--help", **PROD_ENV)
    assert result.returncode == 0, result.stderr
    assert "ENV=prod" in result.stderr and "ENV=dev" in result.stderr
    assert "congresso.example.com" in result.stderr


# --- .env.example is a shell file too --------------------------------------------


def test_env_example_loads_in_a_shell_to_the_values_django_environ_reads():
    script = 'set -euo pipefail; set -a; . "$1"; set +a; "$2" -c "import json, os; print(json.dumps(dict(os.environ)))"'
    result = subprocess.run(
        ["bash", "-c", script, "bash", str(ENV_EXAMPLE), sys.executable],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    shell = json.loads(result.stdout)
    environ_values = example_values()
    assert environ_values == {key: shell[key] for key in environ_values}
    assert environ_values["DEFAULT_FROM_EMAIL"] == "Congresso <nao-responda@example.org>"


def test_every_assignment_in_env_example_is_read_by_django_environ():
    # A line django-environ cannot parse is skipped with a warning: compare
    # with every KEY= line a shell would run.
    assigned = [
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert assigned == list(example_values())


def test_env_example_lists_the_variables_an_operator_must_set():
    values = example_values()
    for variable in ("ENV", "SECRET_KEY", "BOT_API_KEY", "POSTGRES_PASSWORD", "DOMAIN", "ALLOWED_HOSTS"):
        assert variable in values



def test_production_without_allowed_hosts_refuses_to_start():
    result = manage("check", **{**PROD_ENV, "ALLOWED_HOSTS": ""})
    assert result.returncode != 0 and "requires ALLOWED_HOSTS" in result.stderr


def test_production_refuses_the_example_sender_address():
    result = manage("check", **{**PROD_ENV, "DEFAULT_FROM_EMAIL": example_values()["DEFAULT_FROM_EMAIL"]})
    assert result.returncode != 0 and "DEFAULT_FROM_EMAIL" in result.stderr


def test_production_without_email_warns_that_nothing_is_sent():
    without = manage("check", **{k: v for k, v in PROD_ENV.items() if k != "EMAIL_URL"})
    assert without.returncode == 0 and "congress.W001" in without.stderr + without.stdout
    configured = manage("check", **PROD_ENV)
    assert "congress.W001" not in configured.stderr + configured.stdout
