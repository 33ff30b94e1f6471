FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# libmagic1: python-magic, which neonize (the WhatsApp gateway) imports.
# curl: the health checks. No ffmpeg: the gateway sends text only (ffmpeg is
# what neonize needs to send voice notes, stickers and video).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmagic1 curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Runtime requirements only; tests, lint and profiling live in requirements-dev.txt.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Collected with the production storage (hashed names + manifest, as ENV=prod
# serves them); throwaway secrets only for this build step.
RUN ENV=prod SECRET_KEY="build-$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
        BOT_API_KEY="build-$(python -c 'import secrets; print(secrets.token_urlsafe(24))')" \
        ALLOWED_HOSTS=localhost DATABASE_URL=sqlite:////tmp/build.sqlite3 \
        python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 congress \
    && chown -R congress /app
USER congress

EXPOSE 8000
# The web process. Its probe is answered whatever ALLOWED_HOSTS says (a GET of
# /health from loopback: congress.health.LocalHealthProbeMiddleware). The
# compose file gives the worker, beat and gateway health checks of their own.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/health || exit 1
CMD ["gunicorn", "congress.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--reuse-port", "--access-logfile", "-"]
