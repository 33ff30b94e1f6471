from __future__ import annotations


def pytest_configure(config) -> None:
    # Registered here (pytest.ini runs with --strict-markers): `-m fuzz` runs
    # the schema fuzzing alone.
    config.addinivalue_line("markers", "fuzz: schemathesis fuzzing of the REST API (tests/fuzz)")
