"""Read an e-mail address out of what a participant typed.

People type e-mails on phone keyboards and dictate them to voice assistants:
"maria,souza@gmail.com", "maria. souza@gmail. com", "mariagmail.com",
"joao ponto batista arroba hotmail ponto com ponto br". The rule here is that
nothing typed is ever silently dropped: a reading either returns the address
exactly as typed (``value``), or a repaired address the caller must confirm
(``suggestion``), or a ``problem``.

Choices (the contract):

* ``value`` only when the address was typed in one piece, with an ``@``,
  passes :func:`registrations.validators.normalize_email` and its domain is
  not a typo of a popular provider. WhatsApp formatting (``*bold*``,
  ``_italic_``), ``mailto:``, angle brackets, quotes and trailing punctuation
  are removed without asking.
* Every repair gives a ``suggestion``: a separator typed instead of a dot
  (``,`` ``;`` ``/`` ``\\``), spaces inside the address, words spelled out
  ("arroba", "ponto", "underline", "traço"...), a missing ``@`` before a known
  provider, a typo domain, accents in the local part of a popular provider.
  Spelled-out and spaced addresses are always suggestions, even when the
  assembly looks unambiguous: a transcript's "joao batista" may be
  "joaobatista" or "joao.batista", and a confirmation costs one message.
* A bare space between two words of the local part ("maria souza@gmail.com")
  joins them with nothing ("mariasouza@gmail.com"): that is what the person
  typed minus the space, and the confirmation shows it. A space next to a dot
  ("maria. souza@gmail. com") keeps the dot.
* A capitalized word before the address, other than the message's first
  word ("João Silva maria@gmail.com"), is a name and is not joined; nor are
  lead-in words ("meu e-mail é", "segue": ``LEAD_WORDS``). A lower-case
  word is joined even when it looks like a name ("maria souza
  maria.souza@gmail.com" suggests "mariasouzamaria.souza@gmail.com"): a
  wrong suggestion costs one message, a dropped word a stranger's inbox.
* Two different addresses in one message give ``problem="several"``.

Problems: ``"empty"``, ``"not_found"`` (ordinary text, no attempt at an
address), ``"refused"`` (a negation such as "não tenho e-mail"),
``"missing_at"``, ``"invalid"``, ``"several"``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from congress.errors import InvalidValue
from registrations.validators import (
    _KNOWN_EMAIL_DOMAINS,
    POPULAR_EMAIL_DOMAINS,
    fold,
    normalize_email,
    strip_accents,
    suggest_email,
)

__all__ = ["LEAD_WORDS", "EmailReading", "find_email_span", "find_email_spans", "read_email"]


@dataclass(frozen=True)
class EmailReading:
    """The outcome of :func:`read_email`; at most one of value/suggestion/problem is set."""

    value: str | None = None  # certain, store it (lower-cased)
    suggestion: str | None = None  # repaired/corrected: ask "Seu e-mail é *X*?" before storing
    problem: str = ""  # "empty" | "not_found" | "refused" | "missing_at" | "invalid" | "several"
    # Where in the text the e-mail (typed or spelled) was, so the caller can
    # strip it; ``None`` for "several" and when nothing was found.
    span: tuple[int, int] | None = None


# Words that introduce an address and are never part of it.
LEAD_WORDS = frozenset(
    {
        "e", "eh", "o", "a", "meu", "minha", "email", "e-mail", "mail", "emeio", "imeil",
        "endereco", "de", "do", "da", "segue", "aqui", "ta", "esta", "seria", "fica", "vai",
        "sendo", "ai", "la", "ok", "sim", "certo", "pronto", "pode", "ser", "usar", "manda",
        "mande", "mandar", "envia", "enviar", "para", "pra", "pro", "no", "na", "oi", "ola",
        "opa", "obrigado", "obrigada", "valeu", "entao", "isso", "correto", "novo", "outro",
        "certinho", "com", "que", "tenho", "uso", "use", "esse", "este", "dia", "tarde",
        "noite", "bom", "boa", "ja", "so", "acho", "creio", "nao", "errei", "errado", "desculpa",
        "corrigindo", "corrige", "correcao", "ops",
    }
)  # fmt: skip

_AT_WORDS = frozenset({"@", "arroba", "aroba", "arrouba", "arobase"})
_DOT_WORDS = frozenset({".", "ponto", "dot"})
_UNDERSCORE_WORDS = frozenset({"_", "underline", "underscore", "sublinhado", "underlaine", "anderline"})
_HYPHEN_WORDS = frozenset({"-", "traco", "tracinho", "hifen", "hyfen", "menos"})
_SYMBOL_WORDS = {
    **dict.fromkeys(_DOT_WORDS, "."),
    **dict.fromkeys(_UNDERSCORE_WORDS, "_"),
    **dict.fromkeys(_HYPHEN_WORDS, "-"),
}
_TLDS = frozenset({"com", "br", "net", "org", "edu", "gov", "me", "io", "co", "uk", "info", "biz", "agr", "coop"})
_NEGATIONS = frozenset({"nao", "n", "nem", "nunca", "jamais", "nenhum"})
_PROVIDER_LABELS = frozenset(domain.split(".", 1)[0] for domain in POPULAR_EMAIL_DOMAINS)

# Characters removed without asking (formatting, invisible characters).
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")
_WRAPPERS = frozenset("*~<>\"“”«»()[]{}'‘’`")
_ITALIC_RE = re.compile(r"(?<![\w@.])_([^_\n]+?)_(?![\w@])")
_MAILTO_RE = re.compile(r"(?i)mailto:")
# Characters a local part may be made of, plus the separators people type
# instead of a dot; and the same for a domain.
_LOCAL_CHARS_RE = re.compile(r"[\w.%+\-,;/\\]+$")
_DOMAIN_CHARS_RE = re.compile(r"^[\w.\-,]+")
_LOCAL_LIKE_RE = re.compile(r"^[\w.%+\-]+$")
_LABEL_LIKE_RE = re.compile(r"^[\w\-.]+$")
_SEPARATORS_RE = re.compile(r"[,;/\\]+")
_TRAILING = ",;:!?"
_KNOWN_DOMAIN_RE = re.compile(
    r"^(?P<local>[\w.%+\-]*?)[._\-]?(?P<domain>"
    + "|".join(re.escape(d) for d in sorted(_KNOWN_EMAIL_DOMAINS, key=len, reverse=True))
    + r")$"
)
# Words joined across a bare space into one local part, at most.
_MAX_SPACE_JOINS = 2
# How many chunks one address may span ("joao underline batista ponto silva arroba ...").
_MAX_CHUNKS_PER_SIDE = 9


@dataclass
class _Chunk:
    text: str  # cleaned, trailing punctuation removed (case kept)
    key: str  # folded
    start: int  # original span
    end: int


@dataclass
class _Candidate:
    address: str  # assembled, lower-cased
    typed_whole: bool  # one chunk, nothing replaced
    first: int  # chunk indexes consumed
    last: int
    spelled_local: bool = False


def _clean(text: str) -> tuple[str, list[int]]:
    """Formatting removed; returns the cleaned text and, per character, its
    index in ``text`` (so spans can be given in the caller's coordinates)."""
    italic = set()
    for found in _ITALIC_RE.finditer(text):
        italic.update((found.start(), found.end() - 1))
    chars: list[str] = []
    index: list[int] = []
    for position, ch in enumerate(text):
        if ch in _INVISIBLE:
            continue
        if position in italic or ch in _WRAPPERS:
            ch = " "
        elif ord(ch) > 127 and not ch.isalpha():
            # Full-width "＠", "．" and friends.
            ch = unicodedata.normalize("NFKC", ch)
        for piece in ch:
            chars.append(piece)
            index.append(position)
    cleaned = _MAILTO_RE.sub(lambda m: " " * len(m.group(0)), "".join(chars))
    return cleaned, index


def _chunks(text: str) -> list[_Chunk]:
    cleaned, index = _clean(text)
    chunks: list[_Chunk] = []
    for found in re.finditer(r"\S+", cleaned):
        pieces = [(found.start(), found.group(0))]
        if found.group(0).count("@") > 1:  # "a@x.com,b@y.com"
            pieces = [(found.start() + p.start(), p.group(0)) for p in re.finditer(r"[^,;/\s]+", found.group(0))]
        for start, raw in pieces:
            stripped = raw.rstrip(_TRAILING).lstrip(",;:")
            if not stripped:
                continue
            chunks.append(
                _Chunk(
                    text=stripped,
                    key=fold(stripped),
                    start=index[start],
                    end=index[start + len(raw) - 1] + 1,
                )
            )
    return chunks


def _symbol(chunk: _Chunk) -> str | None:
    """The symbol a chunk stands for ("ponto" -> "."), or ``None``."""
    return _SYMBOL_WORDS.get(chunk.key)


def _assemble_domain(chunks: list[_Chunk], first: int, right: str) -> tuple[str, int, bool]:
    """Build the domain from ``right`` (text after the @ in its chunk) and the
    chunks from ``first`` on. Returns (domain, last chunk used, repaired).

    A dot or hyphen is only taken when a label follows it, so a sentence's
    final period is never glued to the address.
    """
    domain = right
    committed = (right.rstrip(".-"), first - 1, False)
    i = first
    while i < len(chunks) and i - first < _MAX_CHUNKS_PER_SIDE:
        chunk = chunks[i]
        symbol = _symbol(chunk)
        needs_more = not domain or domain.endswith((".", "-"))
        if symbol in (".", "-") and domain and not needs_more:
            domain += symbol
        elif _LABEL_LIKE_RE.match(chunk.key) and (
            (chunk.key.startswith(".") and domain and not needs_more)  # "gmail .com"
            or (needs_more and symbol is None and chunk.key not in _AT_WORDS)  # "gmail. com"
        ):
            domain += chunk.key
        elif not needs_more and "." not in domain and chunk.key in _TLDS:
            domain += "." + chunk.key  # "maria@gmail com"
        else:
            break
        if not domain.endswith((".", "-")):
            committed = (domain.rstrip(".-"), i, True)
        i += 1
    return committed


def _assemble_local(
    chunks: list[_Chunk], last: int, left: str, *, join_spaced_words: bool = True
) -> tuple[str, int, bool, bool]:
    """Build the local part from ``left`` (text before the @ in its chunk) and
    the chunks before index ``last`` + 1. Returns (local, first chunk used,
    repaired, spelled)."""
    local = left
    first = last + 1
    repaired = spelled = False
    space_joins = 0
    i = last
    while i >= 0 and last - i < _MAX_CHUNKS_PER_SIDE:
        chunk = chunks[i]
        symbol = _symbol(chunk)
        if symbol is not None:
            if not local or local.startswith((".", "_", "-")):
                break
            local = symbol + local
            spelled = spelled or chunk.key not in ".-_"
        elif not _LOCAL_LIKE_RE.match(chunk.key.rstrip(",;/\\")):
            break
        elif not local:
            if chunk.key in LEAD_WORDS:
                break
            local = chunk.text
        elif local.startswith((".", "_", "-")) or chunk.text.endswith((".", "_", "-", ",", ";", "/", "\\")):
            local = chunk.text + local
        else:
            # A bare space between two words.
            if (
                not join_spaced_words
                or chunk.key in LEAD_WORDS
                or space_joins >= _MAX_SPACE_JOINS
                or (i > 0 and _is_capitalized(chunk.text))
            ):
                break
            local = chunk.text + local
            space_joins += 1
        repaired = True
        first = i
        i -= 1
    return local, first, repaired, spelled


def _is_capitalized(word: str) -> bool:
    """True for "Silva", not "silva" nor "SILVA": a name typed before an address.

    The first word of a message is capitalized by phone keyboards, so callers
    do not ask about it.
    """
    return len(word) > 1 and word[0].isupper() and word[1:].islower()


_fold_local = strip_accents


def _candidates(chunks: list[_Chunk], *, join_spaced_words: bool = True) -> list[_Candidate]:
    found: list[_Candidate] = []
    consumed = -1
    for index, chunk in enumerate(chunks):
        if index <= consumed:
            continue
        if chunk.key in _AT_WORDS:
            left, right, whole = "", "", False
        elif "@" in chunk.text:
            before, _at, after = chunk.text.partition("@")
            local_match = _LOCAL_CHARS_RE.search(before)
            domain_match = _DOMAIN_CHARS_RE.match(after)
            left = local_match.group(0).lstrip(",;/\\") if local_match else ""
            right = domain_match.group(0) if domain_match else ""
            # A glued label ("email:maria@...") is not part of the address.
            label = before[: len(before) - len(left)]
            whole = (not label or fold(label).rstrip(":") in LEAD_WORDS) and right.rstrip(".") == after.rstrip(".")
        else:
            continue
        domain, last, right_repaired = _assemble_domain(chunks, index + 1, right)
        local, first, left_repaired, spelled = _assemble_local(
            chunks, index - 1, left, join_spaced_words=join_spaced_words
        )
        if last < index:
            last = index
        if first > index:
            first = index
        address = f"{local}@{domain}".lower()
        typed_whole = whole and not left_repaired and not right_repaired and chunk.key not in _AT_WORDS
        found.append(_Candidate(address, typed_whole, first, last, spelled))
        consumed = last
    return found


def _missing_at_candidates(chunks: list[_Chunk], *, join_spaced_words: bool = True) -> list[_Candidate]:
    """Addresses typed without the @ before a known provider: "mariagmail.com",
    "maria.gmail.com", "maria gmail.com", "maria gmail ponto com"."""
    found: list[_Candidate] = []
    consumed = -1
    for index, chunk in enumerate(chunks):
        if index <= consumed:
            continue
        key = chunk.key.rstrip(".")
        head = key.split(".", 1)[0]
        matched = _KNOWN_DOMAIN_RE.match(key)
        if matched:
            left, domain, last = matched["local"], matched["domain"], index
            domain, last, _ = _assemble_domain(chunks, index + 1, domain + ("." if chunk.key.endswith(".") else ""))
            last = max(last, index)
        elif head in _PROVIDER_LABELS and (key == head or key == head + "."):
            # "gmail ponto com": only when the words spell a known domain.
            domain, last, _ = _assemble_domain(chunks, index + 1, chunk.key)
            if domain not in _KNOWN_EMAIL_DOMAINS:
                continue
            left = ""
        else:
            continue
        local, first, _repaired, spelled = _assemble_local(chunks, index - 1, left, join_spaced_words=join_spaced_words)
        local = local.rstrip("._-")
        if not local:
            continue
        found.append(_Candidate(f"{local}@{domain}".lower(), False, min(first, index), last, spelled))
        consumed = last
    return found


def _judge(candidate: _Candidate) -> tuple[str | None, str | None]:
    """(value, suggestion) for an assembled address; both ``None`` if hopeless."""
    local, _at, domain = candidate.address.rpartition("@")
    repaired_local = _SEPARATORS_RE.sub(".", local)
    repaired_local = re.sub(r"\.{2,}", ".", repaired_local).strip(".")
    domain = re.sub(r"\.{2,}", ".", domain.replace(",", ".")).strip(".")
    ascii_local = _fold_local(repaired_local)
    if ascii_local != repaired_local and domain in _KNOWN_EMAIL_DOMAINS:
        # Popular providers take no accents: "joão@gmail.com" is "joao@...".
        repaired_local = ascii_local
    repaired = f"{repaired_local}@{domain}"
    exact = candidate.typed_whole and repaired == candidate.address
    try:
        normalized = normalize_email(repaired)
    except InvalidValue as error:
        return None, error.suggestion
    corrected = suggest_email(normalized)
    if exact and corrected is None:
        return normalized, None
    return None, corrected or normalized


def _readings(text: str, *, join_spaced_words: bool = True) -> tuple[list[_Chunk], list[_Candidate]]:
    chunks = _chunks(text)
    candidates = _candidates(chunks, join_spaced_words=join_spaced_words)
    if not candidates:
        candidates = _missing_at_candidates(chunks, join_spaced_words=join_spaced_words)
    return chunks, candidates


def find_email_spans(text: str, *, join_spaced_words: bool = True) -> list[tuple[int, int]]:
    """Spans of every typed, spelled or @-less e-mail attempt in ``text``.

    Never raises. Spans cover whole whitespace-separated chunks (trailing
    punctuation included), so removing them leaves no fragment of an address.
    ``join_spaced_words=False`` leaves out words joined to the local part
    across a bare space ("maria souza@gmail.com" spans "souza@gmail.com"):
    what a name reader wants, since those words are as likely a name.
    """
    chunks, candidates = _readings(text, join_spaced_words=join_spaced_words)
    return [(chunks[c.first].start, chunks[c.last].end) for c in candidates]


def find_email_span(text: str) -> tuple[int, int] | None:
    """The span of the first e-mail attempt in ``text`` (see :func:`find_email_spans`)."""
    spans = find_email_spans(text)
    return spans[0] if spans else None


def read_email(text: str) -> EmailReading:
    """Read the participant's e-mail from ``text``; never raises.

    See the module docstring for when a ``value`` is certain and when a
    ``suggestion`` must be confirmed.
    """
    chunks, candidates = _readings(text)
    if not chunks:
        return EmailReading(problem="empty")
    judged = []
    for candidate in candidates:
        value, suggestion = _judge(candidate)
        judged.append((candidate, value, suggestion))
    distinct = {value or suggestion or candidate.address for candidate, value, suggestion in judged}
    if len(distinct) > 1:
        return EmailReading(problem="several")
    if judged:
        candidate, value, suggestion = judged[0]
        span = (chunks[candidate.first].start, chunks[candidate.last].end)
        if value is None and suggestion is None:
            return EmailReading(problem="invalid", span=span)
        return EmailReading(value=value, suggestion=suggestion, span=span)
    keys = [chunk.key for chunk in chunks]
    if any(key in _NEGATIONS for key in keys):
        return EmailReading(problem="refused")
    attempts = [key for key in keys if key not in LEAD_WORDS]
    looks_like_address = any(
        any(label in key for label in _PROVIDER_LABELS) or re.search(r"\w\.\w", key) for key in attempts
    )
    if looks_like_address or (len(attempts) == 1 and _LOCAL_LIKE_RE.match(attempts[0])):
        return EmailReading(problem="missing_at")
    return EmailReading(problem="not_found")
