"""A bare WSGI hello-world: the ceiling of the server setup itself."""

BODY = b'{"status": "ok"}'


def application(environ, start_response):
    if environ.get("REQUEST_METHOD") == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]
