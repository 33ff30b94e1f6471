"""Admin-only views of the payments app: the file a participant sent for review.

Mounted by ``payments.admin.ReviewAdmin.get_urls`` (so the admin's login and
staff checks run first). The PSP webhook is not here: it has its own module.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from payments.models import Review

# What a browser may render from a participant's upload; anything else is a download.
SAFE_MIMETYPES = frozenset({"image/jpeg", "image/png", "image/webp", "application/pdf"})
IMAGE_MIMETYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
FALLBACK_MIMETYPE = "application/octet-stream"


def served_mimetype(mimetype: str) -> str:
    """The Content-Type a stored file is served with: its own when it is a safe one, else a download."""
    value = (mimetype or "").split(";", 1)[0].strip().lower()
    return value if value in SAFE_MIMETYPES else FALLBACK_MIMETYPE


def is_image(review: Review) -> bool:
    return served_mimetype(review.mimetype) in IMAGE_MIMETYPES


def review_file(request: HttpRequest, object_id: str) -> HttpResponse:
    """The bytes of a review's file, for organizers who may view reviews.

    The file came from a stranger: its stored type is believed only when it
    is an image or a PDF (everything else downloads as octet-stream), the
    browser must not sniff another type, and the document runs sandboxed
    (no scripts, no same-origin access) even if opened on its own.
    """
    # Receipts and documents show full CPFs: only who may read them in full.
    if not (request.user.has_perm("payments.view_review") and request.user.has_perm("registrations.view_full_cpf")):
        raise PermissionDenied
    review = get_object_or_404(Review, pk=object_id)
    if review.content is None:
        raise Http404(_("Arquivo apagado (LGPD)."))
    content_type = served_mimetype(review.mimetype)
    response = HttpResponse(bytes(review.content), content_type=content_type)
    filename = review.filename or f"comprovante-{review.pk}"
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=content_type == FALLBACK_MIMETYPE, filename=filename
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
