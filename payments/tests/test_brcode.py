"""The Pix BR Code, checked against published examples and by a parser and a
CRC written here, independently of ``payments.brcode``."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from payments import brcode

# The Central Bank's "Manual de Padrões para Iniciação do Pix" (Anexo: example
# of a static BR Code, no amount): key 123e4567-e12b-12d1-a456-426655440000,
# "Fulano de Tal", BRASILIA, txid ***, CRC 1D3D.
BCB_MANUAL_STATIC = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR"
    "5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)

# The OpenID Foundation conformance suite for Open Finance Brasil payments
# (github.com/openid-certification/conformance-suite,
# src/main/java/net/openid/conformance/openbanking_brasil/testmodules/support/payments/QrCodeKeys.java):
# static codes for the Central Bank's DICT homologation keys (fictitious
# receiver "JOAO SILVA"). They spell the GUI in capitals.
CONFORMANCE_PHONE_100 = (  # QRES_PHONE_NUMBER: key +5561990010001, R$ 100.00
    "00020126360014BR.GOV.BCB.PIX0114+55619900100015204000053039865406100.005802BR"
    "5910JOAO SILVA6014BELO HORIZONTE62070503***6304DA56"
)
CONFORMANCE_EMAIL_123_45 = (  # QRES_WRONG_AMOUNT: key cliente-a00001@pix.bcb.gov.br, R$ 123.45
    "00020126510014BR.GOV.BCB.PIX0129cliente-a00001@pix.bcb.gov.br5204000053039865406123.455802BR"
    "5910JOAO SILVA6014BELO HORIZONTE62070503***6304B7E7"
)
CONFORMANCE_EMAIL_OPEN = (  # QRES_EMAIL: the same key, no amount
    "00020126510014BR.GOV.BCB.PIX0129cliente-a00001@pix.bcb.gov.br5204000053039865802BR"
    "5910JOAO SILVA6014BELO HORIZONTE62070503***63042A73"
)
PUBLISHED = [BCB_MANUAL_STATIC, CONFORMANCE_PHONE_100, CONFORMANCE_EMAIL_123_45, CONFORMANCE_EMAIL_OPEN]
PUBLISHED_IDS = ["bcb-manual", "conformance-phone-100", "conformance-email-123.45", "conformance-email-open"]

TEMPLATES = {"26", "62"}


# --- an independent reader ------------------------------------------------------------


def bitwise_crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE, bit by bit, straight from its definition."""
    register = 0xFFFF
    for byte in data:
        for bit in range(7, -1, -1):
            top = (register >> 15) & 1
            incoming = (byte >> bit) & 1
            register = (register << 1) & 0xFFFF
            if top ^ incoming:
                register ^= 0x1021
    return register


def walk(text: str) -> list[tuple[str, int, str]]:
    """(id, declared length, value) for each TLV in ``text``; asserts the
    structure: two-digit ids and lengths, lengths that match, nothing left over."""
    out = []
    i = 0
    while i < len(text):
        field_id, length_text = text[i : i + 2], text[i + 2 : i + 4]
        assert field_id.isdigit() and len(field_id) == 2, f"bad id at {i}"
        assert length_text.isdigit() and len(length_text) == 2, f"bad length at {i}"
        length = int(length_text)
        value = text[i + 4 : i + 4 + length]
        assert len(value) == length, f"field {field_id} is short"
        out.append((field_id, length, value))
        i += 4 + length
    assert i == len(text)
    return out


def independent_check(code: str) -> dict[str, object]:
    """Everything a bank app checks first: returns the fields (templates as dicts)."""
    assert code.isascii()
    fields = walk(code)
    ids = [f for f, _, _ in fields]
    assert ids[0] == "00" and fields[0][2] == "01"
    assert ids[-1] == "63" and fields[-1][1] == 4
    assert len(set(ids)) == len(ids)
    expected_crc = bitwise_crc16(code[:-4].encode("ascii"))
    assert int(code[-4:], 16) == expected_crc, "CRC mismatch"
    assert code[-4:] == code[-4:].upper()
    result: dict[str, object] = {}
    for field_id, _, value in fields:
        result[field_id] = {f: v for f, _, v in walk(value)} if field_id in TEMPLATES else value
    account = result["26"]
    assert isinstance(account, dict) and account["00"].lower() == "br.gov.bcb.pix"
    assert len(fields[ids.index("26")][2]) <= 99
    assert result["52"] == "0000" and result["53"] == "986" and result["58"] == "BR"
    assert 1 <= len(result["59"]) <= 25 and 1 <= len(result["60"]) <= 15
    return result


# --- published examples -----------------------------------------------------------------


@pytest.mark.parametrize("code", PUBLISHED, ids=PUBLISHED_IDS)
def test_published_examples_carry_the_crc_both_implementations_compute(code):
    assert brcode.crc16(code[:-4]) == code[-4:]
    assert int(brcode.crc16(code[:-4]), 16) == bitwise_crc16(code[:-4].encode())
    independent_check(code)


def test_the_central_bank_manual_example_is_reproduced_byte_for_byte():
    code = brcode.build_static(
        key="123e4567-e12b-12d1-a456-426655440000",
        amount=None,
        merchant_name="Fulano de Tal",
        merchant_city="BRASILIA",
        txid="",
    )
    assert code == BCB_MANUAL_STATIC


@pytest.mark.parametrize(
    ("code", "key", "amount"),
    [
        (CONFORMANCE_PHONE_100, "+5561990010001", Decimal("100")),
        (CONFORMANCE_EMAIL_123_45, "cliente-a00001@pix.bcb.gov.br", Decimal("123.45")),
        (CONFORMANCE_EMAIL_OPEN, "cliente-a00001@pix.bcb.gov.br", None),
    ],
    ids=["phone-100", "email-123.45", "email-open"],
)
def test_the_conformance_suite_examples_are_reproduced_byte_for_byte(code, key, amount):
    built = brcode.build_static(
        key=key, amount=amount, merchant_name="JOAO SILVA", merchant_city="BELO HORIZONTE", gui="BR.GOV.BCB.PIX"
    )
    assert built == code


def test_static_brcode_differs_from_a_published_example_only_in_the_gui_case_and_crc():
    code = brcode.static_brcode(
        key="+5561990010001",
        amount=Decimal("100.00"),
        merchant_name="JOAO SILVA",
        merchant_city="BELO HORIZONTE",
        txid="",
    )
    published_body = CONFORMANCE_PHONE_100[:-4].replace("BR.GOV.BCB.PIX", "br.gov.bcb.pix")
    assert code[:-4] == published_body
    assert int(code[-4:], 16) == bitwise_crc16(published_body.encode())


@pytest.mark.parametrize("code", PUBLISHED, ids=PUBLISHED_IDS)
def test_parse_agrees_with_the_independent_reader(code):
    assert brcode.parse(code) == independent_check(code)
    assert brcode.is_valid(code)


def test_amount_of_reads_field_54():
    assert brcode.amount_of(CONFORMANCE_EMAIL_123_45) == Decimal("123.45")
    assert brcode.amount_of(BCB_MANUAL_STATIC) is None


# --- what the project builds --------------------------------------------------------------


def test_a_registration_charge_has_amount_txid_and_a_crc_a_bank_accepts():
    code = brcode.static_brcode(
        key="pix@congresso.example",
        amount=Decimal("480.00"),
        merchant_name="Congresso Brasileiro",
        merchant_city="Brasília",
        txid="CBAS-7F3K2",
        description="Inscrição CBAS-7F3K2",
    )
    fields = independent_check(code)
    assert fields["54"] == "480.00"
    assert fields["26"] == {"00": "br.gov.bcb.pix", "01": "pix@congresso.example", "02": "Inscricao CBAS-7F3K2"}
    assert fields["62"] == {"05": "CBAS7F3K2"}
    assert fields["60"] == "Brasilia"
    assert brcode.is_valid(code)


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("480"), "480.00"),
        (Decimal("0.01"), "0.01"),
        (Decimal("220.5"), "220.50"),
        (Decimal("480.000"), "480.00"),
        (Decimal("9999999999.99"), "9999999999.99"),
        (5, "5.00"),
    ],
    ids=["integer", "one-cent", "one-place", "trailing-zero", "maximum", "int"],
)
def test_field_54_holds_the_amount_with_two_decimals(amount, text):
    code = brcode.static_brcode(key="k@x.example", amount=amount, merchant_name="N", merchant_city="C", txid="T1")
    assert independent_check(code)["54"] == text


@pytest.mark.parametrize(
    "amount",
    [
        Decimal("0"),
        Decimal("-480.00"),
        Decimal("480.001"),
        Decimal("10000000000.00"),
        Decimal("NaN"),
        Decimal("Infinity"),
        "480,00",
        "480.00",
        480.0,
        None,
        True,
    ],
    ids=[
        "zero",
        "negative",
        "three-places",
        "too-large",
        "nan",
        "infinity",
        "comma-string",
        "dot-string",
        "float",
        "none",
        "bool",
    ],
)
def test_an_amount_that_is_not_a_positive_decimal_with_two_places_is_refused(amount):
    with pytest.raises(ValueError, match="amount"):
        brcode.static_brcode(key="k@x.example", amount=amount, merchant_name="N", merchant_city="C", txid="T1")


def test_names_and_cities_lose_accents_and_emoji_and_are_cut_to_their_limits():
    code = brcode.static_brcode(
        key="k@x.example",
        amount=Decimal("10.00"),
        merchant_name="Associação 🎉 Brasileira de Pós-Graduação em Saúde Coletiva",
        merchant_city="São João del-Rei 🏙️",
        txid="X",
    )
    fields = independent_check(code)
    assert fields["59"] == "Associacao Brasileira de"  # 25 characters cut, then the trailing space
    assert fields["60"] == "Sao Joao del-Re"
    assert code.isascii()


@pytest.mark.parametrize("name", ["", "   ", "🎉🎉🎉", "日本語"], ids=["empty", "blank", "emoji-only", "no-latin"])
def test_a_merchant_name_with_nothing_printable_is_refused(name):
    with pytest.raises(ValueError, match="merchant name"):
        brcode.static_brcode(key="k@x.example", amount=Decimal("1.00"), merchant_name=name, merchant_city="C", txid="")


@pytest.mark.parametrize(
    "key",
    ["", "   ", "x" * 78, "chave com espaço", "josé@exemplo.com"],
    ids=["empty", "blank", "78-chars", "spaces", "accent"],
)
def test_a_key_that_cannot_be_a_pix_key_is_refused(key):
    with pytest.raises(ValueError, match="key"):
        brcode.static_brcode(key=key, amount=Decimal("1.00"), merchant_name="N", merchant_city="C", txid="")


def test_the_description_is_cut_so_the_account_field_stays_within_99_characters():
    key = "a" * 60
    code = brcode.static_brcode(
        key=key, amount=Decimal("1.00"), merchant_name="N", merchant_city="C", txid="", description="D" * 200
    )
    raw_account = next(v for f, _, v in walk(code) if f == "26")
    assert len(raw_account) == 99
    assert independent_check(code)["26"]["02"] == "D" * (99 - 18 - 64 - 4)


def test_a_77_character_key_leaves_no_room_for_a_description():
    code = brcode.static_brcode(
        key="b" * 77, amount=Decimal("1.00"), merchant_name="N", merchant_city="C", txid="", description="Inscrição"
    )
    assert "02" not in independent_check(code)["26"]


@pytest.mark.parametrize(
    ("txid", "expected"),
    [("", "***"), ("CBAS-7F3K2", "CBAS7F3K2"), ("a b_c", "abc"), ("---", "***"), ("Z" * 25, "Z" * 25)],
    ids=["empty", "dash", "symbols", "only-symbols", "25-chars"],
)
def test_the_txid_keeps_letters_and_digits_only(txid, expected):
    code = brcode.static_brcode(
        key="k@x.example", amount=Decimal("1.00"), merchant_name="N", merchant_city="C", txid=txid
    )
    assert independent_check(code)["62"] == {"05": expected}


def test_a_txid_longer_than_25_letters_and_digits_is_refused_not_cut():
    with pytest.raises(ValueError, match="txid"):
        brcode.static_brcode(
            key="k@x.example", amount=Decimal("1.00"), merchant_name="N", merchant_city="C", txid="Z" * 26
        )


@settings(max_examples=200, deadline=None)
@given(
    cents=st.integers(min_value=1, max_value=999_999_999_999),
    name=st.text(max_size=60).filter(lambda s: brcode.ascii_text(s)),
    city=st.text(max_size=40).filter(lambda s: brcode.ascii_text(s)),
    txid=st.text(alphabet=st.characters(codec="ascii"), max_size=25),
    description=st.text(max_size=120),
    key=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=77),
)
def test_any_valid_input_gives_a_code_the_independent_reader_accepts(cents, name, city, txid, description, key):
    amount = Decimal(cents) / 100
    code = brcode.static_brcode(
        key=key, amount=amount, merchant_name=name, merchant_city=city, txid=txid, description=description
    )
    fields = independent_check(code)
    assert Decimal(fields["54"]) == amount and fields["54"].split(".")[1].__len__() == 2
    assert fields["26"]["01"] == key
    assert brcode.parse(code) == fields
    assert brcode.is_valid(code)


# --- is_valid on damaged codes ------------------------------------------------------------


def _with_crc(body: str) -> str:
    return body + f"{bitwise_crc16(body.encode()):04X}"


@pytest.mark.parametrize(
    "code",
    [
        BCB_MANUAL_STATIC[:-4] + "1D3E",  # CRC off by one
        BCB_MANUAL_STATIC.replace("Fulano", "Fulana"),  # content changed, CRC kept
        BCB_MANUAL_STATIC[:-1],  # truncated
        BCB_MANUAL_STATIC[:-8],  # no field 63
        BCB_MANUAL_STATIC + "00",  # trailing garbage
        _with_crc(BCB_MANUAL_STATIC[:-4].replace("5913Fulano", "5914Fulano")),  # a length that lies, CRC right
        _with_crc(BCB_MANUAL_STATIC[:-4].replace("br.gov.bcb.pix", "br.gov.bcb.pox")),  # not Pix
        _with_crc("000202" + BCB_MANUAL_STATIC[6:-4]),  # payload format 02
        _with_crc(BCB_MANUAL_STATIC[:-4].replace("5303986", "5303840")),  # US dollars
        "",
        "not a code",
    ],
    ids=[
        "crc",
        "content",
        "truncated",
        "no-crc",
        "trailing",
        "bad-length",
        "gui",
        "format",
        "currency",
        "empty",
        "text",
    ],
)
def test_a_damaged_code_is_not_valid(code):
    assert not brcode.is_valid(code)


def test_a_lowercase_crc_is_still_valid():
    assert brcode.is_valid(CONFORMANCE_PHONE_100[:-4] + CONFORMANCE_PHONE_100[-4:].lower())


@pytest.mark.parametrize(
    "code", ["0002", "00020", "000301", "0002010002aa", "xx02ab", "00-1ab"], ids=lambda c: c or "empty"
)
def test_parse_refuses_a_broken_structure(code):
    with pytest.raises(ValueError):
        brcode.parse(code)


def _tlv(field_id: str, value: str) -> str:
    return f"{field_id}{len(value):02d}{value}"


def test_parse_reads_a_dynamic_code_of_a_psp():
    url = "pix.example.com/qr/v2/9d36b84fc70b478fb95b77b3ee1af1b1"
    body = (
        _tlv("00", "01")
        + _tlv("01", "12")
        + _tlv("26", _tlv("00", "br.gov.bcb.pix") + _tlv("25", url))
        + "52040000530398654040.015802BR5913Fulano de Tal6008BRASILIA"
        + _tlv("62", _tlv("05", "***"))
        + "6304"
    )
    code = _with_crc(body)
    fields = brcode.parse(code)
    assert fields["26"] == {"00": "br.gov.bcb.pix", "25": url}
    assert fields["54"] == "0.01"
    assert brcode.is_valid(code)


# --- the QR image -----------------------------------------------------------------------


def test_the_qr_png_is_an_image_of_exactly_the_code_modules():
    png = brcode.qr_png(BCB_MANUAL_STATIC, scale=3)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png)).convert("1")
    matrix = segno.make(BCB_MANUAL_STATIC, error="m", micro=False).matrix
    size = len(matrix) + 8
    assert image.size == (size * 3, size * 3)
    # Sample the centre of each module: dark pixels where the QR has dark modules.
    for row, line in enumerate(matrix):
        for col, dark in enumerate(line):
            pixel = image.getpixel(((col + 4) * 3 + 1, (row + 4) * 3 + 1))
            assert (pixel == 0) == bool(dark), (row, col)


def test_the_qr_png_refuses_a_silly_scale():
    with pytest.raises(ValueError):
        brcode.qr_png(BCB_MANUAL_STATIC, scale=0)
