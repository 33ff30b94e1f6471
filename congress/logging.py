"""Logging filters: the request id on every record, and personal data masked
everywhere (message, arguments and exception text)."""

from __future__ import annotations

import logging

from congress.request_id import get_request_id


class RequestIDFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = get_request_id() or "-"
        return True


class MaskPIIFilter(logging.Filter):
    """Mask CPFs, e-mails and phone numbers in the final message.

    The message is rendered once here and the arguments dropped, so no handler
    can print the unmasked values. Exception text is rendered and masked too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        from registrations.validators import mask_pii

        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        record.msg = mask_pii(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_pii(record.exc_text)
            # The formatter would re-render exc_info; keep only the masked text.
            record.exc_info = None
        return True
