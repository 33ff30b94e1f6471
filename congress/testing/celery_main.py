"""``python -m congress.testing.celery_main worker ...``: the ``celery``
command, after applying test-only overrides of module constants.

Some retry policies are module constants, not settings (e.g.
``registrations.tasks.EMAIL_BACKOFF_FACTOR_S``, 30 s). A fault test that
must see a retry within seconds sets ``CONGRESS_TEST_PATCHES`` to a JSON
object ``{"module.attribute": value}``; they are applied in the worker's main
process before it forks its pool, so every child has them. Nothing here runs
outside tests and benchmarks.
"""

from __future__ import annotations

import importlib
import json
import os
import sys


def apply_patches(raw: str) -> None:
    patches = json.loads(raw or "{}")
    if not patches:
        return
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "congress.settings")
    django.setup()
    for dotted, value in patches.items():
        target, attribute = _resolve(dotted)
        if not hasattr(target, attribute):
            raise SystemExit(f"CONGRESS_TEST_PATCHES: {dotted} does not exist")
        setattr(target, attribute, value)


def _resolve(dotted: str) -> tuple[object, str]:
    """``"pkg.module.CONSTANT"`` or ``"pkg.module.task.max_retries"`` -> (owner object, attribute)."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:-1]:
            owner = getattr(owner, name)
        return owner, parts[-1]
    raise SystemExit(f"CONGRESS_TEST_PATCHES: cannot import {dotted}")


def main() -> None:
    apply_patches(os.environ.pop("CONGRESS_TEST_PATCHES", ""))
    from celery.__main__ import main as celery_main

    sys.argv = ["celery", *sys.argv[1:]]
    celery_main()


if __name__ == "__main__":
    main()
