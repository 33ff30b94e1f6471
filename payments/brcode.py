"""The Pix BR Code: EMV® QRCPS merchant-presented payload, as the Central
Bank's "Manual de Padrões para Iniciação do Pix" profiles it.

A BR Code is a string of TLV fields (two-digit id, two-digit length, value)
ending in field 63, a CRC-16/CCITT-FALSE over everything before its four hex
digits (``6304`` included). A static code carries the receiver's Pix key in
field 26; a dynamic one (what a PSP's ``pixCopiaECola`` holds) carries a URL
there instead. This module builds static codes (static-key mode), parses and
checks any code (a PSP's ``pixCopiaECola`` is checked before a participant
receives it) and renders the QR image.

Pure functions, no I/O, no Django.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

import segno

GUI = "br.gov.bcb.pix"  # the Pix globally unique identifier, field 26/00

# Field ids (EMV QRCPS MPM, as Pix uses them).
PAYLOAD_FORMAT = "00"
MERCHANT_ACCOUNT = "26"
MERCHANT_CATEGORY = "52"
CURRENCY = "53"
AMOUNT = "54"
COUNTRY = "58"
MERCHANT_NAME = "59"
MERCHANT_CITY = "60"
ADDITIONAL_DATA = "62"
CRC = "63"
# Inside 26: the GUI, the key (static) or location URL (dynamic), a description.
ACCOUNT_GUI, ACCOUNT_KEY, ACCOUNT_DESCRIPTION, ACCOUNT_URL = "00", "01", "02", "25"
# Inside 62: the txid.
ADDITIONAL_TXID = "05"

MAX_KEY_CHARS = 77
MAX_ACCOUNT_CHARS = 99  # field 26 as a whole
MAX_NAME_CHARS = 25
MAX_CITY_CHARS = 15
MAX_TXID_CHARS = 25  # static codes
MAX_AMOUNT = Decimal("9999999999.99")  # field 54 holds at most 13 characters
NO_TXID = "***"

# Templates: fields whose value is itself a list of TLV fields. 26-51 are the
# merchant account templates (Pix uses 26), 62 additional data, 80-99 unreserved.
TEMPLATE_IDS = frozenset({f"{n:02d}" for n in range(26, 52)} | {ADDITIONAL_DATA} | {f"{n:02d}" for n in range(80, 100)})

_CENT = Decimal("0.01")
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")
_SPACES = re.compile(r"\s+")

Fields: TypeAlias = "Sequence[tuple[str, str | Fields]]"


# --- CRC ----------------------------------------------------------------------------


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16(payload: str) -> str:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final
    xor) of ``payload`` as 4 uppercase hex digits. For a BR Code the payload is
    everything up to and including ``6304``."""
    crc = 0xFFFF
    for byte in payload.encode("utf-8"):
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[(crc >> 8) ^ byte]
    return f"{crc:04X}"


# --- building -----------------------------------------------------------------------


def _tlv(field_id: str, value: str) -> str:
    if len(field_id) != 2 or not field_id.isdigit():
        raise ValueError(f"A BR Code field id is two digits, not {field_id!r}.")
    if len(value) > 99:
        raise ValueError(f"Field {field_id} holds at most 99 characters ({len(value)} given).")
    return f"{field_id}{len(value):02d}{value}"


def _encode(fields: Fields) -> str:
    return "".join(_tlv(fid, value if isinstance(value, str) else _encode(value)) for fid, value in fields)


def build(fields: Fields) -> str:
    """The BR Code of ``fields`` (ordered ``(id, value)`` pairs, a value being a
    string or, for a template, a nested sequence of pairs), with field 63 (the
    CRC) appended. Values are used as given: callers validate them."""
    body = _encode(fields) + CRC + "04"
    return body + crc16(body)


def ascii_text(value: str) -> str:
    """``value`` in printable ASCII: accents dropped (São -> Sao, ç -> c),
    anything else outside ASCII (emoji...) removed, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", value)
    kept = "".join(ch for ch in decomposed if " " <= ch <= "~" or ch.isspace())
    return _SPACES.sub(" ", kept).strip()


def format_amount(amount: Decimal) -> str:
    """``amount`` as Pix writes it ("480.00"). Raises ValueError unless it is a
    Decimal (or int) above zero, with at most two decimal places, and at most
    9 999 999 999.99."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise ValueError(f"The amount must be a Decimal such as Decimal('480.00'), not {type(amount).__name__}.")
    amount = Decimal(amount)
    if not amount.is_finite():
        raise ValueError("The amount must be a finite number.")
    if amount <= 0:
        raise ValueError("The amount must be greater than zero.")
    try:
        cents = amount.quantize(_CENT)
    except InvalidOperation as exc:
        raise ValueError("The amount is too large.") from exc
    if cents != amount:
        raise ValueError(f"The amount has more than two decimal places: {amount}.")
    if cents > MAX_AMOUNT:
        raise ValueError(f"The amount must be at most {MAX_AMOUNT}.")
    return f"{cents:f}"


def _clean_txid(txid: str) -> str:
    cleaned = _NOT_ALPHANUMERIC.sub("", txid or "")
    if len(cleaned) > MAX_TXID_CHARS:
        # Not cut: two registrations whose codes share a prefix would share a txid.
        raise ValueError(f"The txid has more than {MAX_TXID_CHARS} letters and digits: {cleaned!r}.")
    return cleaned or NO_TXID


def _clean_label(value: str, what: str, limit: int) -> str:
    cleaned = ascii_text(value or "")[:limit].strip()
    if not cleaned:
        raise ValueError(f"The {what} is empty (after removing accents and symbols).")
    return cleaned


def build_static(
    *,
    key: str,
    amount: Decimal | None,
    merchant_name: str,
    merchant_city: str,
    txid: str = "",
    description: str = "",
    gui: str = GUI,
) -> str:
    """A static BR Code, the lower-level form of ``static_brcode``: ``amount``
    None (or 0) leaves the amount to the payer (no field 54), as the Central
    Bank manual's example does; ``gui`` lets published examples that spell the
    GUI in capitals be reproduced (the GUI is case-insensitive)."""
    key = (key or "").strip()
    if not key:
        raise ValueError("The Pix key is empty.")
    if len(key) > MAX_KEY_CHARS:
        raise ValueError(f"The Pix key has more than {MAX_KEY_CHARS} characters.")
    if ascii_text(key) != key or " " in key:
        raise ValueError("The Pix key must be ASCII letters, digits and symbols, without spaces.")
    account: list[tuple[str, str]] = [(ACCOUNT_GUI, gui), (ACCOUNT_KEY, key)]
    room = MAX_ACCOUNT_CHARS - len(_encode(account)) - 4  # 4: the description's id and length
    description = ascii_text(description or "")[: max(room, 0)].strip()
    if description:
        account.append((ACCOUNT_DESCRIPTION, description))

    fields: list[tuple[str, str | Fields]] = [
        (PAYLOAD_FORMAT, "01"),
        (MERCHANT_ACCOUNT, account),
        (MERCHANT_CATEGORY, "0000"),
        (CURRENCY, "986"),
    ]
    if amount is not None and amount != 0:
        fields.append((AMOUNT, format_amount(amount)))
    fields += [
        (COUNTRY, "BR"),
        (MERCHANT_NAME, _clean_label(merchant_name, "merchant name", MAX_NAME_CHARS)),
        (MERCHANT_CITY, _clean_label(merchant_city, "merchant city", MAX_CITY_CHARS)),
        (ADDITIONAL_DATA, [(ADDITIONAL_TXID, _clean_txid(txid))]),
    ]
    return build(fields)


def static_brcode(
    *, key: str, amount: Decimal, merchant_name: str, merchant_city: str, txid: str, description: str = ""
) -> str:
    """The static Pix "copia e cola" for paying ``amount`` to ``key``.

    Name and city lose accents and symbols and are cut to 25 and 15
    characters; the description is cut so field 26 stays within 99; the txid
    keeps only letters and digits (at most 25; ``***`` when none is left).
    Raises ValueError on an amount that is not a positive Decimal with at
    most two places, an empty or over-long key, or a txid too long."""
    if amount is None:
        raise ValueError("The amount is required.")
    format_amount(amount)  # raises on zero, negative, float, str...
    return build_static(
        key=key,
        amount=amount,
        merchant_name=merchant_name,
        merchant_city=merchant_city,
        txid=txid,
        description=description,
    )


# --- reading ------------------------------------------------------------------------


def _parse_fields(text: str, *, nested: bool) -> dict[str, str | dict]:
    fields: dict[str, str | dict] = {}
    position = 0
    while position < len(text):
        head = text[position : position + 4]
        if len(head) < 4 or not head.isdigit():
            raise ValueError(f"Malformed field header {head!r} at position {position}.")
        field_id, length = head[:2], int(head[2:])
        value = text[position + 4 : position + 4 + length]
        if len(value) != length:
            raise ValueError(f"Field {field_id} declares {length} characters but only {len(value)} follow.")
        if field_id in fields:
            raise ValueError(f"Field {field_id} appears twice.")
        fields[field_id] = _parse_fields(value, nested=False) if nested and field_id in TEMPLATE_IDS else value
        position += 4 + length
    return fields


def parse(code: str) -> dict[str, str | dict]:
    """The fields of a BR Code, by id, in order; templates (26-51, 62, 80-99)
    as nested dicts. Raises ValueError when the TLV structure is broken. Does
    not check the CRC: see ``is_valid``."""
    if not isinstance(code, str) or not code:
        raise ValueError("A BR Code is a non-empty string.")
    return _parse_fields(code, nested=True)


def is_valid(code: str) -> bool:
    """True for a well-formed Pix BR Code: TLV structure intact, starts with
    ``000201``, a merchant account template with the Pix GUI, currency 986
    and country BR where present, and ends with field 63 holding the right
    CRC."""
    try:
        fields = parse(code)
    except ValueError:
        return False
    ids = list(fields)
    if not ids or ids[0] != PAYLOAD_FORMAT or fields[PAYLOAD_FORMAT] != "01":
        return False
    if ids[-1] != CRC or not isinstance(fields[CRC], str) or len(fields[CRC]) != 4:
        return False
    if fields.get(CURRENCY, "986") != "986" or fields.get(COUNTRY, "BR") != "BR":
        return False
    has_pix_account = any(
        isinstance(value, dict) and str(value.get(ACCOUNT_GUI, "")).lower() == GUI
        for fid, value in fields.items()
        if "26" <= fid <= "51"
    )
    if not has_pix_account:
        return False
    return crc16(code[:-4]).upper() == code[-4:].upper()


def amount_of(code: str) -> Decimal | None:
    """The amount in field 54, or None when the code has none (or is broken)."""
    try:
        value = parse(code).get(AMOUNT)
        return Decimal(value) if isinstance(value, str) else None
    except (ValueError, InvalidOperation):
        return None


# --- the image ----------------------------------------------------------------------


def qr_png(code: str, *, scale: int = 6) -> bytes:
    """The QR code of ``code`` as a PNG (error correction M, the usual quiet
    zone of 4 modules). ``scale`` is the size of a module in pixels."""
    if not code:
        raise ValueError("Nothing to encode.")
    if not 1 <= scale <= 40:
        raise ValueError("The scale must be between 1 and 40.")
    qr = segno.make(code, error="m", micro=False)
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
