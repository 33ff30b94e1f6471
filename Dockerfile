FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends libmagic1 ffmpeg curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN ENV=dev python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 congress \
    && chown -R congress /app
USER congress

EXPOSE 8000
CMD ["gunicorn", "congress.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--reuse-port", "--access-logfile", "-"]
