"""WhatsApp text as organizers read it in the admin.

Participants' messages and the bot's replies use WhatsApp's formatting
(``*negrito*``, ``_itálico_``, ``~riscado~``, ```` ```mono``` ````); the admin
shows them rendered, escaped first so a message can never inject HTML, and
with every CPF-shaped number masked (the participant's page is the one place
a CPF is shown whole, to those allowed to see it).
"""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from registrations.validators import mask_cpf

# CPF-shaped numbers (formatted or not) inside free text.
_CPF_IN_TEXT = re.compile(r"(?<![\d+])\d{3}[.\s\-]?\d{3}[.\s\-]?\d{3}[.\s\-/]?\d{2}(?!\d)")

# WhatsApp's rules: the markers hug the text (no space inside), and are not
# glued to a word character outside (so snake_case and 2*3*4 stay as typed).
_MONO = re.compile(r"```(.+?)```", re.S)
_STYLES = (
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])"), "strong"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])"), "em"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])"), "s"),
)


def mask_cpfs(text: str) -> str:
    """Every CPF-shaped number in ``text`` as ``***.456.789-**``."""
    return _CPF_IN_TEXT.sub(lambda found: mask_cpf(found.group(0)), text)


def _styled(segment: str) -> str:
    for pattern, tag in _STYLES:
        segment = pattern.sub(rf"<{tag}>\1</{tag}>", segment)
    return segment


def whatsapp_html(text: str | None) -> SafeString:
    """``*Nome:* Maria`` -> ``<strong>Nome:</strong> Maria``, line breaks kept, CPFs masked."""
    safe = escape(text or "")
    parts = _MONO.split(safe)  # odd items are the monospaced blocks, shown as typed
    html = "".join(f"<code>{part}</code>" if odd % 2 else _styled(part) for odd, part in enumerate(parts))
    # Masked last: the mask's own asterisks must not read as bold.
    html = mask_cpfs(html).replace("\r\n", "\n").replace("\n", "<br>")
    return mark_safe(html)  # noqa: S308 - escaped above
