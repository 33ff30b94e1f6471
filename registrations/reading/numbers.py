"""Reading numbers people type: a choice from a numbered list, a CPF, a phone.

Pure functions (no database, no network). Each reader returns what it found
and, when it found nothing usable, a problem code the caller turns into a
pt-BR reply; a ``suggestion`` is a repaired value to offer as a yes/no
question ("Seu CPF é *012.345.678-90*?"), never to store without asking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from registrations.validators import VALID_DDDS, _national_number, _parse_phone, is_valid_cpf, strip_accents

__all__ = [
    "CpfReading",
    "PhoneReading",
    "means_same_number",
    "read_choice",
    "read_cpf",
    "read_phone",
]


def _fold(text: str) -> str:
    """Lower case, accents removed (º/ª become o/a); no other change."""
    return strip_accents(text.lower())


# --------------------------------------------------------------------------
# Choices from numbered lists
# --------------------------------------------------------------------------

# Keycaps: a digit, an optional VS16 and U+20E3; "1️⃣2️⃣" is 12.
_KEYCAPS_RE = re.compile(r"(?:[0-9]\ufe0f?\u20e3)+")
_KEYCAP_TEN = "\U0001f51f"  # 🔟
_CHOICE_TOKEN_RE = re.compile(r"[0-9]+|[^\W\d_]+")

_UNITS = {
    "um": 1, "uma": 1, "dois": 2, "duas": 2, "tres": 3, "quatro": 4, "cinco": 5, "seis": 6, "meia": 6,
    "sete": 7, "oito": 8, "nove": 9,
}  # fmt: skip
_TEENS = {
    "dez": 10, "onze": 11, "doze": 12, "treze": 13, "quatorze": 14, "catorze": 14, "quinze": 15,
    "dezesseis": 16, "dezasseis": 16, "dezessete": 17, "dezassete": 17, "dezoito": 18, "dezenove": 19,
    "dezanove": 19,
}  # fmt: skip
_TENS = {"vinte": 20, "trinta": 30, "quarenta": 40, "cinquenta": 50}
_ORDINAL_UNITS = {
    stem + ending: value
    for stem, value in (
        ("primeir", 1), ("segund", 2), ("terceir", 3), ("quart", 4), ("quint", 5), ("sext", 6),
        ("setim", 7), ("oitav", 8), ("non", 9),
    )
    for ending in ("o", "a")
}  # fmt: skip
_ORDINAL_TENS = {
    stem + ending: value
    for stem, value in (("decim", 10), ("vigesim", 20), ("trigesim", 30), ("quadragesim", 40))
    for ending in ("o", "a")
}
# Counted from the end of the list.
_FROM_END = {"ultimo": 0, "ultima": 0, "penultimo": 1, "penultima": 1}

# Words that may surround a choice without changing it ("quero a 2 por
# favor", "a segunda opção", "fico com o 3", "nº 3"). Anything else makes the
# message more than a choice ("tenho 2 filhos", "rodada 1").
_CHOICE_FILLERS = frozenset(
    tuple(phrase.split())
    for phrase in """
    por favor, porfavor, pf, pfv, pfvr, pls, please, obrigado, obrigada, obg, brigado, valeu, vlw, grato, grata,
    entao, e, ou, bom, ah, opa, hum, acho que, acho, seria, sera,
    quero, queria, escolho, escolhi, escolha, minha escolha, minha resposta, resposta, prefiro, opto por, opto,
    fico com, fico, vou de, vou com, vou na, vou no, vou, marco, marca, pode ser, pode, coloca, coloque, bota,
    me, na, no, o, a, de, da, do, com, essa, esta, esse, este, ai, aqui, mesmo,
    opcao, alternativa, item, numero, num, n, nr, nro, campo, perfil
    """.replace("\n", " ").split(",")
    if phrase.strip()
)
_LONGEST_FILLER = max(len(phrase) for phrase in _CHOICE_FILLERS)


def _choice_tokens(text: str) -> list[str]:
    text = _KEYCAPS_RE.sub(lambda m: " " + re.sub(r"\D", "", m.group(0)) + " ", text)
    text = text.replace(_KEYCAP_TEN, " 10 ")
    return _CHOICE_TOKEN_RE.findall(_fold(text))


def _number_at(tokens: list[str], i: int, count: int) -> tuple[int, int] | None:
    """``(value, tokens used)`` for a number written at ``tokens[i]``, else None."""
    token = tokens[i]
    following = tokens[i + 1] if i + 1 < len(tokens) else ""
    if token.isascii() and token.isdigit():
        return int(token), 1
    if token in _UNITS or token in _TEENS:
        return _UNITS.get(token) or _TEENS[token], 1
    if token in _TENS:
        if following == "e" and i + 2 < len(tokens) and tokens[i + 2] in _UNITS:
            return _TENS[token] + _UNITS[tokens[i + 2]], 3
        if following in _UNITS:
            return _TENS[token] + _UNITS[following], 2
        return _TENS[token], 1
    if token in _ORDINAL_UNITS:
        return _ORDINAL_UNITS[token], 1
    if token in _ORDINAL_TENS:
        if following in _ORDINAL_UNITS:
            return _ORDINAL_TENS[token] + _ORDINAL_UNITS[following], 2
        return _ORDINAL_TENS[token], 1
    if token in _FROM_END:
        return count - _FROM_END[token], 1
    return None


def read_choice(text: str, count: int) -> int | None:
    """The 1-based item a message picks from a list of ``count`` items, or None.

    Accepts digits ("2", "2.", "2)", "02", "#2", "2ª", "2º"), keycap emoji
    ("2️⃣", "🔟"), number words ("dois", "duas", "vinte e sete"), ordinals ("a
    segunda", "décimo primeiro"), "a última" / "a penúltima", and labels and
    politeness around them ("opção 2", "nº 2", "item 2", "quero a 2 por
    favor", "fico com o 2").

    None when the number is out of ``1..count``, when two different numbers
    are named ("1 ou 2", "12 e 3"), when a number has three or more digits
    (a year, a CPF), and when the message says more than a choice ("tenho 2
    filhos", "Pitch de startups rodada 1"): any word outside the small filler
    vocabulary disqualifies it. The same number written twice ("2, a 2") is
    one choice.
    """
    if count < 1:
        return None
    tokens = _choice_tokens(text)
    values: set[int] = set()
    i = 0
    while i < len(tokens):
        if tokens[i].isdigit() and len(tokens[i]) > 2:
            return None
        number = _number_at(tokens, i, count)
        if number is not None:
            values.add(number[0])
            i += number[1]
            continue
        for size in range(_LONGEST_FILLER, 0, -1):
            if tuple(tokens[i : i + size]) in _CHOICE_FILLERS:
                i += size
                break
        else:
            return None
    if len(values) != 1:
        return None
    value = values.pop()
    return value if 1 <= value <= count else None


# --------------------------------------------------------------------------
# Runs of digits in free text
# --------------------------------------------------------------------------

# Characters that join the digit groups of one number ("186.091.390-34").
_JOINERS = ".-/,\u2013\u2014_"
_EDGE_PUNCTUATION = ".,;:!?()[]{}\"'*_~<>"
# Letters people type for look-alike digits: O for 0, l and I for 1.
_LOOKALIKES = str.maketrans({"o": "0", "O": "0", "l": "1", "I": "1"})


@dataclass(frozen=True)
class _Piece:
    """One whitespace-separated piece of a number."""

    raw: str
    digits: str  # with look-alike letters read as digits
    typed_digits: int  # real digits typed
    lookalike: bool


@dataclass(frozen=True)
class _Scan:
    runs: tuple[tuple[_Piece, ...], ...]  # consecutive numeric pieces
    mixed: tuple[str, ...]  # pieces that mix digits with other letters
    words: tuple[str, ...]  # folded pieces without digits


def _scan(text: str, *, lookalikes: bool) -> _Scan:
    runs: list[tuple[_Piece, ...]] = []
    current: list[_Piece] = []
    mixed: list[str] = []
    words: list[str] = []
    for raw in text.split():
        core = raw.strip(_EDGE_PUNCTUATION)
        inner = "".join(ch for ch in core if ch not in _JOINERS)
        if not inner:
            continue  # a lone "-" or "." between groups joins them
        ascii_digits = sum("0" <= ch <= "9" for ch in inner)
        if ascii_digits == len(inner):
            current.append(_Piece(raw, inner, ascii_digits, lookalike=False))
            continue
        repaired = inner.translate(_LOOKALIKES)
        if lookalikes and ascii_digits >= 2 and repaired.isascii() and repaired.isdigit():
            current.append(_Piece(raw, repaired, ascii_digits, lookalike=True))
            continue
        if current:
            runs.append(tuple(current))
            current = []
        if ascii_digits:
            mixed.append(core)
        else:
            words.append(_fold(core))
    if current:
        runs.append(tuple(current))
    return _Scan(tuple(runs), tuple(mixed), tuple(words))


def _spans(run: tuple[_Piece, ...]) -> list[tuple[_Piece, ...]]:
    """Contiguous groups of pieces, longest first, then left to right."""
    n = len(run)
    return [run[a : a + size] for size in range(n, 0, -1) for a in range(n - size + 1)]


def _digits(pieces: tuple[_Piece, ...]) -> str:
    return "".join(piece.digits for piece in pieces)


def _typed(pieces: tuple[_Piece, ...]) -> int:
    return sum(piece.typed_digits for piece in pieces)


def _nearest(runs: tuple[tuple[_Piece, ...], ...], target: int) -> tuple[_Piece, ...] | None:
    """The run whose digit count is nearest ``target`` (more digits win ties)."""
    if not runs:
        return None
    return min(runs, key=lambda run: (abs(len(_digits(run)) - target), -len(_digits(run))))


# --------------------------------------------------------------------------
# CPF
# --------------------------------------------------------------------------

_CPF_LABEL_RE = re.compile(r"(?i)(?<![a-z])c\.?\s?p\.?\s?f(?![a-z])\.?\s*[:=\-]?\s*")
_CPF_FORMATTED_RE = re.compile(r"\d{3}\.\d{3}\.\d{3}-\d{2}")
# Folded words around a CPF typed on its own ("meu cpf é 186...", "segue o número").
_CPF_CONTEXT_WORDS = frozenset(
    {
        "meu", "minha", "o", "a", "e", "eh", "cpf", "numero", "n", "no", "do", "de", "da", "segue",
        "aqui", "ai", "ta", "esta", "pronto", "entao", "ok", "sim", "certo",
        "documento", "isso", "por", "favor", "pfv", "obrigado", "obrigada",
    }
)  # fmt: skip


@dataclass(frozen=True)
class CpfReading:
    """What :func:`read_cpf` found.

    * ``value``: the 11 digits of a valid CPF;
    * ``suggestion``: 11 digits of a valid CPF the person probably meant
      (leading zeros lost: "1234567890" -> "01234567890"; a letter O or l
      typed for a digit); ask before using it;
    * ``problem`` (when there is no value): ``missing_digits``,
      ``extra_digits``, ``check_digits``, ``repeated``, ``letters``, ``empty``
      or ``none`` (no attempt at a number: "ainda não tenho", "tenho 2
      filhos"). With a suggestion it tells what was repaired
      (``missing_digits`` or ``letters``);
    * ``digits``: how many digits the attempt had (look-alike letters not counted).
    """

    value: str | None = None
    suggestion: str | None = None
    problem: str = ""
    digits: int = 0


def _is_cpf(digits: str) -> bool:
    return len(digits) == 11 and is_valid_cpf(digits)


def read_cpf(text: str) -> CpfReading:
    """Read a CPF attempt; digits here are always a CPF, never a phone.

    Accepts any punctuation, spaces ("186 091 390 34"), a "CPF:" label and a
    sentence around it ("meu cpf é 186.091.390-34"). With several numbers
    in the message the valid CPF among them wins (a CPF-formatted one
    first); without one, the number whose length is nearest 11 is judged.
    """
    if not text.strip():
        return CpfReading(problem="empty")
    unlabeled = _CPF_LABEL_RE.sub(" ", text)
    scan = _scan(unlabeled, lookalikes=True)

    exact: list[tuple[bool, tuple[_Piece, ...]]] = []
    for run in scan.runs:
        for span in _spans(run):
            if _is_cpf(_digits(span)):
                formatted = bool(_CPF_FORMATTED_RE.fullmatch(" ".join(p.raw for p in span).strip(_EDGE_PUNCTUATION)))
                exact.append((formatted, span))
    clean = [(formatted, span) for formatted, span in exact if not any(p.lookalike for p in span)]
    if clean:
        span = next((span for formatted, span in clean if formatted), clean[0][1])
        return CpfReading(value=_digits(span), digits=11)
    if exact:
        span = exact[0][1]
        return CpfReading(suggestion=_digits(span), problem="letters", digits=_typed(span))

    # Leading zeros dropped (by a spreadsheet, or by people who think they do
    # not count): only for a whole number, never a piece of a longer one.
    for run in scan.runs:
        digits = _digits(run)
        if 9 <= len(digits) <= 10 and not any(p.lookalike for p in run):
            padded = digits.rjust(11, "0")
            if _is_cpf(padded):
                return CpfReading(suggestion=padded, problem="missing_digits", digits=len(digits))

    run = _nearest(scan.runs, 11)
    # "18609139a34": letters inside what is clearly a number attempt.
    mixed_digits = max((sum(ch.isdigit() for ch in piece) for piece in scan.mixed), default=0)
    if mixed_digits >= 5 and (run is None or len(_digits(run)) < 9):
        return CpfReading(problem="letters", digits=mixed_digits)
    if run is None:
        return CpfReading(problem="none")
    typed = _typed(run)
    digits = _digits(run)
    if any(p.lookalike for p in run):
        return CpfReading(problem="letters", digits=typed)
    if len(digits) == 11:
        return CpfReading(problem="repeated" if len(set(digits)) == 1 else "check_digits", digits=11)
    if len(digits) > 11:
        return CpfReading(problem="extra_digits", digits=typed)
    only_a_number = all(word in _CPF_CONTEXT_WORDS for word in scan.words) and len(scan.runs) == 1
    if len(digits) >= 9 or only_a_number:
        return CpfReading(problem="missing_digits", digits=typed)
    return CpfReading(problem="none", digits=typed)


# --------------------------------------------------------------------------
# Phones
# --------------------------------------------------------------------------

# Runs of characters a phone is written with, not glued to letters.
_PHONE_RUN_RE = re.compile(r"(?<![^\W_])[+(]?\d[\d\s().+\-]*\d\)?(?![^\W_])")
# "(0xx61)": an old way to write "any carrier" before the DDD.
_ANY_CARRIER_RE = re.compile(r"(?i)0\s*xx")
_GLUED_RE = re.compile(r"[^\W\d_]\d|\d[^\W\d_]")
# From Brazil, "00" then a carrier code (2 digits) then the country code.
_CARRIER_DIGITS = 2


@dataclass(frozen=True)
class PhoneReading:
    """What :func:`read_phone` found.

    * ``value``: a Brazilian phone in E.164 (``"+5561999887766"``);
    * ``suggestion``: E.164 of the phone the person probably meant; today
      only an old 8-digit mobile with its 9 added (``problem`` is
      ``missing_nine``): ask "Faltou o 9? *(61) 99988-7766*";
    * ``problem`` (when there is no value): ``foreign`` (a number with
      another country code: never read as a Brazilian one), ``no_ddd`` (8 or
      9 digits), ``ddd`` (no such DDD), ``shape`` (any other wrong length or
      first digit), ``letters`` (letters inside the number), ``empty``,
      ``none`` (no number and no reference to this one), ``same_as_whatsapp``
      ("esse mesmo": the caller uses the number the chat comes from), or
      ``missing_nine`` with a suggestion;
    * ``foreign``: the foreign number in E.164 when ``phonenumbers`` finds it
      valid, else ``""``.
    """

    value: str | None = None
    suggestion: str | None = None
    problem: str = ""
    foreign: str = ""


def _foreign_e164(digits: str) -> str:
    """E.164 of an international number given without its "+", or ``""``."""
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return ""
    if number.country_code == 55 or not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _foreign(candidate: str) -> tuple[bool, str]:
    """``(is foreign, E.164 or "")`` for a number written in international form.

    "+1 415 555 1234" and "+351 912 345 678" are foreign; so is a number
    dialled from Brazil with "00" (optionally a carrier code) and a country
    code other than 55.
    """
    digits = re.sub(r"\D", "", candidate)
    if candidate.lstrip().startswith("+"):
        if digits.startswith("55"):
            return False, ""
        return True, _foreign_e164(digits)
    if digits.startswith("00") and not digits.startswith("0055"):
        for skip in (2, 2 + _CARRIER_DIGITS):
            if digits[skip:].startswith("55"):
                return False, ""
            e164 = _foreign_e164(digits[skip:])
            if e164:
                return True, e164
    return False, ""


def _old_mobile(candidate: str) -> str | None:
    """E.164 with the 9th digit added to an old 8-digit mobile, or None.

    Before the 9 was added (2012-2016), mobiles had 8 digits starting with 6,
    7, 8 or 9; landlines start with 2-5 and stay as they are.
    """
    digits = re.sub(r"\D", "", candidate)
    if candidate.lstrip().startswith("+"):
        national = digits[2:] if digits.startswith("55") else None
    else:
        national = _national_number(digits)
    if national is None or len(national) != 10:
        return None
    ddd, subscriber = national[:2], national[2:]
    if ddd not in VALID_DDDS or subscriber[0] not in "6789":
        return None
    e164, _problem, _ddd = _parse_phone(f"+55{ddd}9{subscriber}")
    return e164


def read_phone(text: str) -> PhoneReading:
    """Read a phone attempt (a Brazilian phone, or the reason it is not one).

    Accepts what :func:`registrations.validators.normalize_phone` accepts,
    inside a sentence too ("meu cel é (61) 99988-7766"); the first valid
    Brazilian phone wins. A message that starts with "+" and a country code
    other than 55 is foreign whatever follows.
    """
    if not text.strip():
        return PhoneReading(problem="empty")
    text = _ANY_CARRIER_RE.sub("0", text)
    runs = [found.group(0) for found in _PHONE_RUN_RE.finditer(text)]
    if text.lstrip().startswith("+"):
        # Country codes are prefix-free: the digits after "+" decide, not the spaces.
        first = runs[0] if runs and text.lstrip().startswith(runs[0].lstrip()) else text
        digits = re.sub(r"\D", "", first)
        if not digits.startswith("55"):
            return PhoneReading(problem="foreign", foreign=_foreign_e164(digits))

    suggestion: str | None = None
    foreign: tuple[bool, str] = (False, "")
    for run in runs:
        pieces = run.split()
        # A run that starts with "+" or "00" is read from its start only.
        starts = [0] if run.lstrip().startswith(("+", "00")) else range(len(pieces))
        for start in starts:
            for end in range(len(pieces), start, -1):
                candidate = " ".join(pieces[start:end])
                count = sum(ch.isdigit() for ch in candidate)
                if not 8 <= count <= 16:
                    continue
                is_foreign, e164 = _foreign(candidate)
                if is_foreign:
                    foreign = foreign if foreign[0] else (True, e164)
                    continue
                value, _problem, _ddd = _parse_phone(candidate)
                if value is not None:
                    return PhoneReading(value=value)
                suggestion = suggestion or _old_mobile(candidate)
    if suggestion is not None:
        return PhoneReading(suggestion=suggestion, problem="missing_nine")
    if foreign[0]:
        return PhoneReading(problem="foreign", foreign=foreign[1])

    total_digits = sum(ch.isdigit() for ch in text)
    if total_digits >= 8 and any(_GLUED_RE.search(piece) for piece in text.split() if "@" not in piece):
        return PhoneReading(problem="letters")
    if not total_digits:
        return PhoneReading(problem="same_as_whatsapp" if means_same_number(text) else "none")
    best = min(
        runs or [re.sub(r"[^\d\s]", " ", text)],
        key=lambda run: (abs(sum(ch.isdigit() for ch in run) - 11), -sum(ch.isdigit() for ch in run)),
    )
    _value, problem, _ddd = _parse_phone(best)
    if problem in ("no_ddd", "ddd", "foreign", "empty"):
        return PhoneReading(problem=problem)
    return PhoneReading(problem="shape")


# Words of "use this same number" ("esse mesmo", "o número que estou usando").
_SAME_POINTERS = frozenset(
    {
        "mesmo", "mesma", "esse", "este", "essa", "esta", "desse", "deste", "dessa", "desta", "daqui", "proprio",
        "propria", "igual", "atual", "usando", "falando", "conversando", "escrevendo", "mandando", "whatsapp",
        "whats", "zap", "zapzap", "wpp",
    }
)  # fmt: skip
_SAME_CONTEXT = frozenset(
    {
        "o", "a", "e", "eh", "é", "pode", "ser", "usar", "usa", "use", "utilizar", "utiliza", "utilize", "sim",
        "ok", "por", "favor", "pfv", "meu", "minha", "numero", "número", "telefone", "celular", "cel",
        "fone", "contato", "do", "da", "de", "no", "na", "que", "eu", "estou", "to", "tou", "tô", "uso", "chat",
        "conversa", "agora", "aqui", "ai", "aí", "com", "voce", "você", "vc", "pra", "para", "mesmo", "so", "só",
        "tambem", "também",
    }
)  # fmt: skip
_SAME_REFUSALS = frozenset({"nao", "não", "outro", "outra", "diferente", "novo"})


def means_same_number(text: str) -> bool:
    """True when the message asks to use the number the chat comes from.

    "esse mesmo", "o mesmo", "este", "o mesmo do whatsapp", "pode ser esse",
    "é esse daqui", "o número que estou usando", "mesmo número". Every word
    must belong to that small vocabulary and one must point at this number;
    digits or a refusal ("não, outro") make it False.
    """
    if any(ch.isdigit() for ch in text):
        return False
    words = [_fold(word) for word in re.findall(r"[^\W\d_]+", text)]
    if not words or any(word in _SAME_REFUSALS for word in words):
        return False
    pointers = {_fold(word) for word in _SAME_POINTERS}
    context = {_fold(word) for word in _SAME_CONTEXT} | pointers
    return any(word in pointers for word in words) and all(word in context for word in words)
