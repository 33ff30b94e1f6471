"""JSON errors for every API failure: a 4xx that says what is wrong, a 503
when a backing service is down, and never a stack trace."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A backing service is unavailable; try again shortly."
    default_code = "service_unavailable"


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "too_large"


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        # Raised when DRF first reads request.data (a throttle may do it before the view).
        exc = PayloadTooLarge("Request body too large (audio over MAX_AUDIO_BYTES?).")
    if isinstance(exc, DatabaseError):
        logger.exception("Database error while serving the API")
        exc = ServiceUnavailable("The database is unavailable; try again shortly.")
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error while serving the API", exc_info=exc)
        return Response(
            {"error": "internal_error", "detail": "Something went wrong on our side; try again shortly."},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, ValidationError):
        response.data = {"error": "invalid", "detail": "Invalid request body.", "fields": response.data}
    elif isinstance(exc, APIException):
        codes = exc.get_codes()
        response.data = {
            "error": codes if isinstance(codes, str) else "error",
            "detail": str(exc.detail) if not isinstance(exc.detail, dict | list) else exc.detail,
        }
    return response
