"""The one domain error base.

Callers translate a ``CongressError`` into a chat reply, a 4xx response, an
admin message or a retry. ``transient`` tells whether trying again later may
succeed (network trouble) or not (bad input, a refused request).
"""

from __future__ import annotations


class CongressError(Exception):
    """Base of every error the project raises on purpose."""

    transient: bool = False

    def __init__(self, message: str = "", *, transient: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if transient is not None:
            self.transient = transient


class InvalidValue(CongressError):
    """A value typed by a person did not validate.

    ``message`` is user-facing pt-BR text (already translated) that says what to
    fix and gives an example; ``suggestion`` is an optional corrected value the
    bot may offer ("você quis dizer ...?").
    """

    def __init__(self, message: str, *, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.suggestion = suggestion
