"""The deployment files: compose, Dockerfile, .dockerignore, requirements, Makefile, ensure-services.

No Docker daemon runs here, so the compose file is checked as data (and with a
compose binary when one is installed); the web health check is run for real
against gunicorn with production settings.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("migrate", "web", "worker", "beat", "gateway")
LONG_RUNNING = [name for name in SERVICES if name != "migrate"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
DOCKERFILE_INSTRUCTIONS = "\n".join(line for line in DOCKERFILE.splitlines() if not line.lstrip().startswith("#"))
DOCKERIGNORE = [
    line.strip()
    for line in (ROOT / ".dockerignore").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]


def example_env() -> dict[str, str]:
    import environ

    class ExampleEnv(environ.Env):
        ENVIRON: dict[str, str] = {}

    ExampleEnv.read_env(ROOT / ".env.example")
    return dict(ExampleEnv.ENVIRON)


# --- docker-compose.yml ----------------------------------------------------------


def test_compose_runs_every_service_the_deployment_needs():
    assert set(SERVICES) == {"caddy", "postgres", "redis", "migrate", "web", "worker", "beat", "gateway"}
    commands = {name: " ".join(SERVICES[name]["command"]) for name in APP_SERVICES}
    assert commands["migrate"].startswith("python manage.py migrate")
    assert commands["web"].startswith("gunicorn congress.wsgi")
    assert commands["worker"].startswith("celery -A congress worker")
    assert commands["beat"].startswith("celery -A congress beat")
    assert commands["gateway"].startswith("python manage.py whatsapp_gateway")
    for name in APP_SERVICES:
        assert SERVICES[name]["build"] == "."
        assert SERVICES[name]["env_file"] == ".env"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_service_rotates_its_logs(service):
    logging = SERVICES[service]["logging"]
    assert logging["driver"] == "json-file"
    assert logging["options"]["max-size"] and int(logging["options"]["max-file"]) >= 2


def test_only_the_reverse_proxy_is_published_beyond_the_host():
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            if name == "caddy":
                assert str(port).split(":")[0] in ("80", "443")
            else:
                assert name == "web", f"{name} publishes {port}"
                assert str(port).startswith("127.0.0.1:"), port
    assert SERVICES["caddy"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_the_web_app_trusts_exactly_the_one_proxy_in_front_of_it():
    environment = SERVICES["web"]["environment"]
    assert environment["USE_X_FORWARDED_PROTO"] == "true"
    assert environment["NUM_PROXIES"] == "${NUM_PROXIES:-1}"


def test_caddy_terminates_tls_for_the_domain_and_proxies_to_web():
    caddy = SERVICES["caddy"]
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert any(volume.startswith("caddy_data:/data") for volume in caddy["volumes"])  # certificates survive
    assert caddy["environment"]["DOMAIN"].startswith("${DOMAIN:?")
    caddyfile = (ROOT / "Caddyfile").read_text()
    assert "{$DOMAIN} {" in caddyfile
    assert "reverse_proxy web:8000" in caddyfile


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_every_long_running_service_has_a_health_check(service):
    healthcheck = SERVICES[service]["healthcheck"]
    assert not healthcheck.get("disable")
    assert healthcheck["test"][0] in ("CMD", "CMD-SHELL")


def test_the_one_shot_migration_does_not_run_the_images_web_probe():
    assert SERVICES["migrate"]["healthcheck"] == {"disable": True}
    assert SERVICES["migrate"]["restart"] == "no"


def test_the_web_health_check_probes_health_on_loopback():
    assert SERVICES["web"]["healthcheck"]["test"] == ["CMD", "curl", "-fsS", "http://127.0.0.1:8000/health"]


def test_every_interpolated_variable_has_a_default_or_is_required_and_documented():
    text = (ROOT / "docker-compose.yml").read_text()
    documented = example_env()
    found = re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?][^}]*)?\}", text)
    assert found
    for name, modifier in found:
        if modifier.startswith((":-", "-")):
            continue
        assert modifier.startswith(":?"), f"${{{name}}} has neither a default nor a message"
        assert name in documented, f"{name} is required but not in .env.example"


def test_postgres_and_the_apps_share_one_password_from_env():
    required = "${POSTGRES_PASSWORD:?"
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(required)
    for name in APP_SERVICES:
        assert required in SERVICES[name]["environment"]["DATABASE_URL"]


def compose_binary() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_config_accepts_the_file_with_env_example(tmp_path):
    binary = compose_binary()
    if binary is None:
        pytest.skip("no compose binary here; the file is checked as YAML above")
    for name in ("docker-compose.yml", "Caddyfile", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    result = subprocess.run([*binary, "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Congresso <nao-responda@example.org>" in result.stdout  # quotes stripped, as a shell does


def test_the_caddyfile_adapts_when_caddy_is_installed():
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy is not installed here")
    result = subprocess.run(
        [caddy, "adapt", "--config", str(ROOT / "Caddyfile"), "--adapter", "caddyfile"],
        env={**os.environ, "DOMAIN": "congresso.example.com"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "congresso.example.com" in result.stdout and "web:8000" in result.stdout


# --- Dockerfile and .dockerignore ---------------------------------------------------


def test_the_dockerfile_has_its_own_health_check():
    assert re.search(r"^HEALTHCHECK .*\n?.*curl -fsS http://127\.0\.0\.1:8000/health", DOCKERFILE_INSTRUCTIONS, re.M)


def test_the_image_installs_runtime_requirements_only():
    assert "pip install -r requirements.txt" in DOCKERFILE_INSTRUCTIONS
    assert "requirements-dev" not in DOCKERFILE_INSTRUCTIONS


def test_the_image_installs_no_ffmpeg_and_keeps_libmagic_for_neonize():
    assert "ffmpeg" not in DOCKERFILE_INSTRUCTIONS
    assert "libmagic1" in DOCKERFILE_INSTRUCTIONS


def test_static_files_are_collected_with_the_production_storage():
    # ENV=dev would skip the manifest that ENV=prod's storage needs: every
    # admin page would be a 500.
    assert re.search(r"RUN ENV=prod .*collectstatic", DOCKERFILE_INSTRUCTIONS, re.S)


def dockerignored(path: str) -> bool:
    """Docker's rule, roughly: the last pattern matching the path or a parent decides."""

    def matches(pattern: str, candidate: str) -> bool:
        regex = re.escape(pattern.strip("/")).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        return re.fullmatch(regex, candidate) is not None

    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in DOCKERIGNORE:
        negated = pattern.startswith("!")
        if any(matches(pattern.lstrip("!"), candidate) for candidate in candidates):
            excluded = not negated
    return excluded


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        ".env",
        "tests/resilience/harness.py",
        "congress/tests/test_deploy.py",
        "registrations/tests/conftest.py",
        "bench/run.py",
        "docs/benchmarks.md",
        "ruff-0.17.6-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "db.sqlite3",
        "chatbot/__pycache__/models.cpython-311.pyc",
        ".pytest_cache/v/cache",
        ".ruff_cache/content",
        "requirements-dev.txt",
    ],
)
def test_the_image_leaves_out(path):
    assert dockerignored(path)


@pytest.mark.parametrize(
    "path",
    [
        "manage.py",
        "requirements.txt",
        ".env.example",  # settings read its placeholders to refuse them
        "congress/settings.py",
        "congress/testing/factories.py",
        "registrations/data/municipios.csv",
        "templates/legal/privacy_notice.html",
        "chatbot/management/commands/load_demo_event.py",
    ],
)
def test_the_image_keeps(path):
    assert not dockerignored(path)


def test_no_wheel_is_committed_at_the_repository_root():
    assert not list(ROOT.glob("*.whl"))


# --- requirements ------------------------------------------------------------------


def requirement_names(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-r")):
            continue
        assert "==" in line, f"{path.name}: {line} is not pinned"
        name, version = line.split("==", 1)
        pins[re.sub(r"\[.*\]", "", name).lower()] = version
    return pins


def test_runtime_requirements_hold_no_test_lint_or_profiling_tool():
    runtime = requirement_names(ROOT / "requirements.txt")
    assert "django" in runtime and "gunicorn" in runtime
    for tool in ("pytest", "pytest-django", "hypothesis", "schemathesis", "ruff", "py-spy", "pyyaml"):
        assert tool not in runtime


def test_dev_requirements_add_the_pinned_tools_to_the_runtime():
    text = (ROOT / "requirements-dev.txt").read_text()
    assert "-r requirements.txt" in text.splitlines()
    dev = requirement_names(ROOT / "requirements-dev.txt")
    for tool in ("pytest", "pytest-django", "pytest-timeout", "hypothesis", "schemathesis", "ruff", "pyyaml", "py-spy"):
        assert tool in dev


# --- Makefile, CI ----------------------------------------------------------------------


def make_dry_run(target: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_test_installs_the_dev_requirements_and_runs_everything():
    out = make_dry_run("test")
    assert "pip install -q -r requirements-dev.txt" in out
    pytest_line = next(line for line in out.splitlines() if "-m pytest" in line)
    assert "--ignore" not in pytest_line and "not resilience" not in pytest_line


def test_make_test_fast_leaves_out_the_resilience_and_fuzz_suites():
    out = make_dry_run("test-fast")
    pytest_line = next(line for line in out.splitlines() if "-m pytest" in line)
    for part in ("--ignore=tests/resilience", "--ignore=tests/fuzz", 'not resilience and not fuzz'):
        assert part in pytest_line


def test_make_run_installs_the_runtime_only():
    out = make_dry_run("run")
    assert "pip install -q -r requirements.txt" in out
    assert "requirements-dev" not in out
    assert "load_demo_event" in out


def test_make_lint_runs_ruff_from_the_dev_requirements():
    out = make_dry_run("lint")
    assert "requirements-dev.txt" in out and "ruff check ." in out


def test_ci_runs_exactly_make_test_with_ci_set():
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[-1] == "make test"
    assert 'export CI="${CI:-true}"' in lines


# --- the web health check against a real gunicorn --------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def production_gunicorn(tmp_path):
    """gunicorn with production settings and ALLOWED_HOSTS set to a real-looking domain."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    env.update(
        ENV="prod",
        SECRET_KEY="k" + "x7#k2!p9@q4$w8%e3^r6&t1*y5(u0)i-o=p+a_s[d]f{g}h|j;k:l",
        BOT_API_KEY="a-long-random-api-key-for-the-gateway",
        ALLOWED_HOSTS="congresso.example.com",
        CSRF_TRUSTED_ORIGINS="https://congresso.example.com",
        USE_X_FORWARDED_PROTO="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'health.sqlite3'}",
        REDIS_URL="",
        LOG_LEVEL="WARNING",
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [str(gunicorn), "congress.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    pytest.fail(f"gunicorn did not start: {proc.stderr.read()[-2000:]}")
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def http_status(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_compose_web_health_check_passes_with_the_real_domain_in_allowed_hosts(production_gunicorn):
    port = production_gunicorn
    if shutil.which("curl"):
        # The compose file's own command, on this test's port.
        command = [part.replace("8000", str(port)) for part in SERVICES["web"]["healthcheck"]["test"][1:]]
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["status"] == "healthy"
    assert http_status(f"http://127.0.0.1:{port}/health") == 200


def test_the_same_server_still_refuses_a_foreign_host_everywhere_else(production_gunicorn):
    port = production_gunicorn
    assert http_status(f"http://127.0.0.1:{port}/admin/login/") == 400
    # /health relayed by a proxy (X-Forwarded-For) with a foreign Host.
    assert http_status(f"http://127.0.0.1:{port}/health", {"Host": "evil.example", "X-Forwarded-For": "203.0.113.9"}) == 400


# --- scripts/ensure-services.sh -------------------------------------------------------


@pytest.fixture
def fake_machine(tmp_path):
    """A PATH of stub PostgreSQL/Redis tools and a scratch /etc/postgresql."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    etc = tmp_path / "etc-postgresql"
    hba = etc / "15" / "main" / "pg_hba.conf"
    hba.parent.mkdir(parents=True)
    hba.write_text("local all postgres peer\nhost all all 127.0.0.1/32 scram-sha-256\n")
    calls = tmp_path / "calls.log"
    stubs = {
        "pg_isready": "exit 0",
        # Trust auth works once the script's lines are in the scratch pg_hba.conf.
        "psql": f'grep -q congress-ci "{hba}" && exit 0; echo "password authentication failed" >&2; exit 2',
        "pg_ctlcluster": f'echo "pg_ctlcluster $*" >> "{calls}"',
        "pg_lsclusters": "echo '15 main 5432 online'",
        "redis-server": "exit 0",
        "redis-cli": "echo PONG",
        "sudo": 'exec "$@"',
        "apt-get": f'echo "apt-get $*" >> "{calls}"',
    }
    for name, body in stubs.items():
        stub = bin_dir / name
        stub.write_text(f"#!/usr/bin/env bash\n{body}\n")
        stub.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "ENSURE_SERVICES_PG_ETC": str(etc),
    }
    return env, hba, calls


def ensure_services(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "ensure-services.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_ensure_services_leaves_pg_hba_alone_outside_ci_and_says_how_to_allow_it(fake_machine):
    env, hba, calls = fake_machine
    before = hba.read_text()
    result = ensure_services(env)
    assert result.returncode != 0
    assert hba.read_text() == before
    assert "ENSURE_SERVICES_TRUST=1" in result.stderr and "TEST_DATABASE_URL" in result.stderr
    assert not calls.exists()


@pytest.mark.parametrize(
    ("extra_env", "args"),
    [({"CI": "true"}, ()), ({"ENSURE_SERVICES_TRUST": "1"}, ()), ({}, ("--trust",))],
    ids=["ci", "asked-by-variable", "asked-by-flag"],
)
def test_ensure_services_says_what_it_changes_before_it_allows_trust(fake_machine, extra_env, args):
    env, hba, calls = fake_machine
    result = ensure_services({**env, **extra_env}, *args)
    assert result.returncode == 0, result.stderr
    assert f"adding trust authentication for local connections to {hba}" in result.stdout
    assert hba.read_text().startswith("host all all 127.0.0.1/32 trust # congress-ci\n")
    assert "reload" in calls.read_text()


def test_ensure_services_changes_nothing_when_trust_already_works(fake_machine):
    env, hba, calls = fake_machine
    hba.write_text("host all all 127.0.0.1/32 trust # congress-ci\n")
    result = ensure_services({**env, "CI": "true"})
    assert result.returncode == 0, result.stderr
    assert "adding" not in result.stdout
    assert not calls.exists()
    assert hba.read_text() == "host all all 127.0.0.1/32 trust # congress-ci\n"
