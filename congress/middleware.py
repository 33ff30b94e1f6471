from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from congress.request_id import clean_request_id, set_request_id


class RequestIDMiddleware:
    """Give every request an id (the caller's ``X-Request-ID`` when sane) and
    echo it on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = clean_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            set_request_id(None)
        response["X-Request-ID"] = request_id
        return response
