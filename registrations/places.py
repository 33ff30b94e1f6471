"""Reading where a participant lives from what they type.

A pure module (no database, no network) on top of
:func:`registrations.validators.match_city`. The registration asks "Em qual
cidade você mora?" and people answer the way people type: "Ceilândia",
"Taguatinga DF", "Floripa", "moro na fazenda perto de Rio Verde", "sou de BH",
a full address ending in "Goiânia - GO, 74000-000". :func:`read_place` turns
that into a :class:`PlaceReading`:

* ``place``: settled, store it. ``unsure`` says whether to confirm first.
* ``options``: ambiguous (the same name in several places); ask which one.
  Ranked for the event: places inside the event's region first (the event's
  UF and its neighbours, :func:`region_ufs`), then DF administrative regions,
  nicknames, official names and short names in that order, then by position
  in the region. At most eight.
* ``suggestion``: nothing matched exactly, this one is close ("Você quis
  dizer ...?").
* nothing set: not a place. ``query`` holds the cleaned text that was
  searched ("" when nothing place-like was left).

Rules, in the order they are tried:

1. An explicit UF is always respected. "Cidade/UF", "Cidade - UF", "Cidade
   UF", "Cidade, UF", "Cidade (UF)", "Cidade, Goiás", "cidade de X no estado
   de Y": no place of another UF is ever returned, not even as an option or a
   suggestion. "Santa Maria DF" is the DF administrative region, "Santa Maria
   RS" the municipality, "Valparaíso GO" is Valparaíso de Goiás.
2. The Federal District's administrative regions (IBGE lists only Brasília)
   are read as Brasília/DF with the region kept in ``Place.district``.
   Where the name is also a municipality elsewhere (Taguatinga/TO, Santa
   Maria/RS and RN, Planaltina/GO, Sobradinho/BA and RS, Guará/SP,
   Cruzeiro/SP, São Sebastião/SP and AL, Varjão/GO, Itapoá/SC) and no UF is
   given, every reading becomes an option. An accent that tells them apart
   decides ("Itapoã" is the DF region, "Itapoá" the town in SC; "Poá" is the
   town in SP, "POA" may be Porto Alegre).
3. Nicknames (:data:`NICKNAMES`): BH, Floripa, Sampa, LEM, Gyn... A nickname
   that is also an official name elsewhere gives options, never a silent pick.
4. Short names: "Valparaíso", "Águas Lindas", "Alto Paraíso" are read as
   Valparaíso de Goiás, Águas Lindas de Goiás, Alto Paraíso de Goiás. Any
   municipality whose name ends in its own state ("de Goiás", "de Minas",
   "do Tocantins", "Paulista"...) answers to the name without it. Such a
   reading joins the options when its UF is in the event's region (or no
   region is given, or nothing else matched).
5. Lead-ins and noise are dropped: greetings, "moro em", "sou da cidade de",
   "zona rural de", "perto de", "fazenda ... perto de X", "município de",
   trailing "mesmo", "capital", "obrigado", emoji, e-mails, links, CEPs and
   long digit runs. "interior de Goiás" (a state, not a city) is not a place.
6. Inside longer text (an address), a city immediately followed by a UF it
   exists in wins ("..., Setor Oeste, Goiânia - GO, 74000-000"). The scan is
   bounded: text over :data:`MAX_CHARS` characters is only scanned for that
   pattern, in its first and last :data:`MAX_CHARS` characters; so is text
   of more than :data:`MAX_ANSWER_WORDS` words (at most
   :data:`MAX_SCAN_TOKENS` words, half from each end).
7. Typos: OSA edit distance with the thresholds of ``match_city``, over
   municipalities, DF regions, nicknames and short names together. Among
   equally close names, one in the event's region is preferred ("Seilândia"
   is Ceilândia, never Açailândia/MA).

When is a settled place ``unsure`` (the caller confirms before storing)?

* never for an official name typed exactly (accents, case and old spellings
  such as Parati/Paraty aside), a DF region typed exactly, a clear nickname
  (BH, Beagá, Floripa, Sampa, BSB, Gyn, LEM...) or a city found next to its
  UF in an address;
* always when it took typo tolerance, a nickname that could be misread
  ("Rio", "Embu", "JP", "Ribeirão", a bare "SP"/"DF"), a bare state name
  that is also a town ("Goiás", "Tocantins"), "a capital" read as the event
  state's capital, or a city name picked out of a sentence without any cue.

Known limits: a message naming two cities ("moro em Goiânia mas trabalho em
Anápolis") is read from its last place-like tail; the DF list is the
administrative regions (plus Asa Sul, Asa Norte, Vila Planalto), not every
neighbourhood.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from congress.errors import InvalidValue
from registrations.validators import (
    UF_NAMES,
    City,
    CityMatch,
    fold,
    load_cities,
    match_city,
    normalize_uf,
)

__all__ = [
    "DF_REGIONS",
    "MAX_CHARS",
    "MAX_SCAN_TOKENS",
    "NICKNAMES",
    "UF_NEIGHBOURS",
    "Place",
    "PlaceReading",
    "read_place",
    "region_ufs",
]

# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    city: City  # the IBGE municipality
    district: str = ""  # e.g. "Ceilândia" for a DF administrative region

    def label(self) -> str:
        """``"Brasília/DF (Ceilândia)"`` or ``"Goiânia/GO"``."""
        return f"{self.city} ({self.district})" if self.district else str(self.city)


@dataclass(frozen=True)
class PlaceReading:
    """The outcome of :func:`read_place`; at most one of place/options/suggestion."""

    place: Place | None = None  # settled: store it
    options: tuple[Place, ...] = ()  # ambiguous: ask which one (ranked), 2..8 items
    suggestion: Place | None = None  # not found exactly: "Você quis dizer X?"
    unsure: bool = False  # place settled through typo tolerance or a loose guess: confirm
    query: str = ""  # the cleaned text that was searched
    # How it was read: "name", "district", "nickname", "short_name",
    # "address", "mention", "capital", "typo" ("" when nothing was found).
    source: str = ""


# --------------------------------------------------------------------------
# Regions: the event's UF and its land neighbours
# --------------------------------------------------------------------------

# Land borders between UFs (each pair listed on both sides; a test checks the
# symmetry). Order: roughly by how much the border matters for travel.
UF_NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "AC": ("AM", "RO"),
    "AL": ("PE", "SE", "BA"),
    "AP": ("PA",),
    "AM": ("RR", "PA", "MT", "RO", "AC"),
    "BA": ("SE", "AL", "PE", "PI", "TO", "GO", "MG", "ES"),
    "CE": ("RN", "PB", "PE", "PI"),
    "DF": ("GO", "MG"),
    "ES": ("MG", "RJ", "BA"),
    "GO": ("DF", "MG", "MT", "MS", "TO", "BA"),
    "MA": ("PI", "TO", "PA"),
    "MT": ("GO", "MS", "RO", "AM", "PA", "TO"),
    "MS": ("MT", "GO", "MG", "SP", "PR"),
    "MG": ("SP", "RJ", "ES", "BA", "GO", "DF", "MS"),
    "PA": ("AP", "RR", "AM", "MT", "TO", "MA"),
    "PB": ("RN", "PE", "CE"),
    "PR": ("SP", "SC", "MS"),
    "PE": ("PB", "AL", "BA", "PI", "CE"),
    "PI": ("MA", "CE", "PE", "BA", "TO"),
    "RJ": ("SP", "MG", "ES"),
    "RN": ("PB", "CE"),
    "RS": ("SC",),
    "RO": ("AC", "AM", "MT"),
    "RR": ("AM", "PA"),
    "SC": ("PR", "RS"),
    "SP": ("MG", "RJ", "PR", "MS"),
    "SE": ("AL", "BA"),
    "TO": ("GO", "BA", "PI", "MA", "PA", "MT"),
}

# Capitals, for "moro na capital" (read as the event state's capital, unsure).
CAPITALS: dict[str, str] = {
    "AC": "Rio Branco",
    "AL": "Maceió",
    "AP": "Macapá",
    "AM": "Manaus",
    "BA": "Salvador",
    "CE": "Fortaleza",
    "DF": "Brasília",
    "ES": "Vitória",
    "GO": "Goiânia",
    "MA": "São Luís",
    "MT": "Cuiabá",
    "MS": "Campo Grande",
    "MG": "Belo Horizonte",
    "PA": "Belém",
    "PB": "João Pessoa",
    "PR": "Curitiba",
    "PE": "Recife",
    "PI": "Teresina",
    "RJ": "Rio de Janeiro",
    "RN": "Natal",
    "RS": "Porto Alegre",
    "RO": "Porto Velho",
    "RR": "Boa Vista",
    "SC": "Florianópolis",
    "SP": "São Paulo",
    "SE": "Aracaju",
    "TO": "Palmas",
}


def region_ufs(uf: str) -> tuple[str, ...]:
    """The event's UF first, then the UFs it borders: ``"GO"`` -> GO, DF, MG, MT, MS, TO, BA.

    Accepts a code or a state name in any case; ``()`` for blank or unknown.
    """
    if not uf or not uf.strip():
        return ()
    try:
        code = normalize_uf(uf)
    except InvalidValue:  # an event without a usable UF ranks nothing
        return ()
    return (code, *UF_NEIGHBOURS[code])


def _clean_region(region: Iterable[str]) -> tuple[str, ...]:
    seen: list[str] = []
    for uf in region or ():
        code = str(uf).strip().upper()
        if code in UF_NAMES and code not in seen:
            seen.append(code)
    return tuple(seen)


# --------------------------------------------------------------------------
# Data tables
# --------------------------------------------------------------------------

BRASILIA_IBGE = 5300108

# The Federal District's administrative regions (RA I-XXXIII, plus Arapoanga
# and Água Quente, created in 2022 as RA XXXIV and XXXV) -> folded spellings
# people use. Keys go through ``_district_key``: Roman numerals and "dois"
# become digits, so "Sobradinho II", "sobradinho 2" and "sobradinho dois" are
# one key. A compass word after a region ("Taguatinga Norte", "Ceilândia
# Sul") is the region too.
DF_REGIONS: dict[str, tuple[str, ...]] = {
    "Plano Piloto": ("plano piloto", "asa sul", "asa norte", "vila planalto", "setor noroeste"),
    "Gama": ("gama",),
    "Taguatinga": ("taguatinga",),
    "Brazlândia": ("brazlandia", "brasilandia"),
    "Sobradinho": ("sobradinho", "sobradinho 1"),
    "Planaltina": ("planaltina",),
    "Paranoá": ("paranoa",),
    "Núcleo Bandeirante": ("nucleo bandeirante", "n bandeirante"),
    "Ceilândia": ("ceilandia",),
    "Guará": ("guara", "guara 1", "guara 2"),
    "Cruzeiro": ("cruzeiro", "cruzeiro novo", "cruzeiro velho"),
    "Samambaia": ("samambaia",),
    "Santa Maria": ("santa maria",),
    "São Sebastião": ("sao sebastiao",),
    "Recanto das Emas": ("recanto das emas", "recanto"),
    "Lago Sul": ("lago sul",),
    "Riacho Fundo": ("riacho fundo", "riacho fundo 1"),
    "Lago Norte": ("lago norte",),
    "Candangolândia": ("candangolandia",),
    "Águas Claras": ("aguas claras",),
    "Riacho Fundo II": ("riacho fundo 2",),
    "Sudoeste/Octogonal": ("sudoeste", "octogonal", "sudoeste octogonal"),
    "Varjão": ("varjao",),
    "Park Way": ("park way", "parkway"),
    "SCIA/Estrutural": ("scia", "estrutural", "scia estrutural", "cidade estrutural", "vila estrutural"),
    "Sobradinho II": ("sobradinho 2",),
    "Jardim Botânico": ("jardim botanico",),
    "Itapoã": ("itapoa",),
    "SIA": ("sia", "setor de industria e abastecimento"),
    "Vicente Pires": ("vicente pires",),
    "Fercal": ("fercal",),
    "Sol Nascente/Pôr do Sol": ("sol nascente", "por do sol", "sol nascente por do sol"),
    "Arniqueira": ("arniqueira", "arniqueiras"),
    "Arapoanga": ("arapoanga",),
    "Água Quente": ("agua quente",),
}


@dataclass(frozen=True)
class _Nickname:
    name: str  # official municipality name
    uf: str
    clear: bool  # settles without confirmation when nothing else shares the name
    needs_uf: bool = False  # only read with its UF typed ("CG MS")


# Folded nickname -> municipality. "clear" nicknames are what people from
# there call the city and nobody reads otherwise; the rest set ``unsure``
# (Rio could be Rio Verde, JP Ji-Paraná, Embu Embu-Guaçu). Where a nickname
# is also an official name (Poá/SP, Ribeirão/PE, Aparecida/SP and PB, Rio
# Preto/MG, São Bernardo/MA, Primavera/PA and PE) both become options.
# "Porto" alone is left out: Porto/PI exists and Porto Velho, Porto Seguro,
# Porto Nacional are as likely as Porto Alegre. Plain names such as Cuiabá,
# Natal, Formosa, Anápolis, Luziânia or Rio Verde need no entry.
NICKNAMES: dict[str, _Nickname] = {
    "bh": _Nickname("Belo Horizonte", "MG", clear=True),
    "bhz": _Nickname("Belo Horizonte", "MG", clear=True),
    "beaga": _Nickname("Belo Horizonte", "MG", clear=True),
    "belo horizonte capital": _Nickname("Belo Horizonte", "MG", clear=True),
    "floripa": _Nickname("Florianópolis", "SC", clear=True),
    "sampa": _Nickname("São Paulo", "SP", clear=True),
    "sp capital": _Nickname("São Paulo", "SP", clear=True),
    "capital paulista": _Nickname("São Paulo", "SP", clear=True),
    "sp": _Nickname("São Paulo", "SP", clear=False),
    "lem": _Nickname("Luís Eduardo Magalhães", "BA", clear=True),
    "luis eduardo": _Nickname("Luís Eduardo Magalhães", "BA", clear=True),
    "embu": _Nickname("Embu das Artes", "SP", clear=False),
    "poa": _Nickname("Porto Alegre", "RS", clear=True),
    "rio": _Nickname("Rio de Janeiro", "RJ", clear=False),
    "rj": _Nickname("Rio de Janeiro", "RJ", clear=False),
    "rj capital": _Nickname("Rio de Janeiro", "RJ", clear=True),
    "bsb": _Nickname("Brasília", "DF", clear=True),
    "df": _Nickname("Brasília", "DF", clear=False),
    "distrito federal": _Nickname("Brasília", "DF", clear=False),
    "jampa": _Nickname("João Pessoa", "PB", clear=True),
    "jp": _Nickname("João Pessoa", "PB", clear=False),
    "gyn": _Nickname("Goiânia", "GO", clear=True),
    "goiania capital": _Nickname("Goiânia", "GO", clear=True),
    "cg": _Nickname("Campo Grande", "MS", clear=True, needs_uf=True),
    "ribeirao": _Nickname("Ribeirão Preto", "SP", clear=False),
    "udi": _Nickname("Uberlândia", "MG", clear=True),
    "valpa": _Nickname("Valparaíso de Goiás", "GO", clear=True),
    "aparecida": _Nickname("Aparecida de Goiânia", "GO", clear=False),
    "cidade de goias": _Nickname("Goiás", "GO", clear=True),
    "goias velho": _Nickname("Goiás", "GO", clear=True),
    "cwb": _Nickname("Curitiba", "PR", clear=True),
    "ssa": _Nickname("Salvador", "BA", clear=True),
    "fortal": _Nickname("Fortaleza", "CE", clear=True),
    "slz": _Nickname("São Luís", "MA", clear=True),
    "sjc": _Nickname("São José dos Campos", "SP", clear=True),
    "sjrp": _Nickname("São José do Rio Preto", "SP", clear=True),
    "rio preto": _Nickname("São José do Rio Preto", "SP", clear=False),
    "sbc": _Nickname("São Bernardo do Campo", "SP", clear=True),
    "sao bernardo": _Nickname("São Bernardo do Campo", "SP", clear=False),
    "campina": _Nickname("Campina Grande", "PB", clear=False),
    "lucas": _Nickname("Lucas do Rio Verde", "MT", clear=False),
    "primavera": _Nickname("Primavera do Leste", "MT", clear=False),
}

# A name ending in its own state answers to the name without it ("Águas
# Lindas" for Águas Lindas de Goiás/GO); the suffix must name the city's UF,
# so Bom Jesus do Tocantins/PA (the river) gets no short name.
_STATE_SUFFIXES: dict[str, str] = {
    "de goias": "GO",
    "de minas": "MG",
    "do tocantins": "TO",
    "do piaui": "PI",
    "da bahia": "BA",
    "do maranhao": "MA",
    "do para": "PA",
    "do parana": "PR",
    "paulista": "SP",
    "de sergipe": "SE",
    "potiguar": "RN",
    "de mato grosso": "MT",
    "do ceara": "CE",
    "de alagoas": "AL",
    "de rondonia": "RO",
    "do acre": "AC",
    "do espirito santo": "ES",
}

# What people call a state besides its name and code ("Uberlândia, Minas").
_STATE_ALIASES: dict[str, str] = {"minas": "MG"}

# Abbreviations in municipality names: "Sta. Helena de Goiás", "Sto. Antônio
# do Descoberto", "S. Paulo", "Sen. Canedo", "N. Sra. do Livramento".
_ABBREVIATIONS: dict[str, str] = {
    "sto": "santo",
    "sta": "santa",
    "s": "sao",
    "n": "nossa",
    "ns": "nossa senhora",
    "nsa": "nossa",
    "sra": "senhora",
    "sr": "senhor",
    "pres": "presidente",
    "gov": "governador",
    "cel": "coronel",
    "mal": "marechal",
    "sen": "senador",
    "dr": "doutor",
    "prof": "professor",
    "fco": "francisco",
}

# Words that lead to the place: text after them is tried as a place name.
# "Strong" cues start the searched query ("moro na fazenda perto de Rio
# Verde" searches "Rio Verde"); connectives only open candidate tails.
_STRONG_CUES = frozenset(
    {
        "moro",
        "mora",
        "morando",
        "resido",
        "reside",
        "vivo",
        "sou",
        "natural",
        "estou",
        "to",
        "fico",
        "fica",
        "localizado",
        "localizada",
        "cidade",
        "municipio",
        "distrito",
        "povoado",
        "rural",
        "interior",
        "perto",
        "pertinho",
        "proximo",
        "proxima",
        "lado",
        "regiao",
        "aqui",
        "em",
    }
)
_CONNECTIVES = frozenset(
    {"de", "do", "da", "dos", "das", "no", "na", "nos", "nas", "a", "ao", "aos", "as", "o", "e", "eh", "um", "uma"}
)
_CUE_TOKENS = _STRONG_CUES | _CONNECTIVES

# Greetings and fillers dropped at the start or the end (whole phrases, so
# "Bom Jesus" and "Boa Vista" keep their first word).
_LEADING_NOISE = tuple(
    tuple(phrase.split())
    for phrase in (
        "bom dia",
        "boa tarde",
        "boa noite",
        "tudo bem",
        "tudo bom",
        "oi",
        "ola",
        "opa",
        "oie",
        "e ai",
        "entao",
        "bem",
        "eu",
        "olha",
        "resposta",
        "minha",
        "meu",
    )
)
_TRAILING_NOISE = tuple(
    tuple(phrase.split())
    for phrase in (
        "obrigado",
        "obrigada",
        "brigado",
        "brigada",
        "obg",
        "valeu",
        "vlw",
        "mesmo",
        "msm",
        "ok",
        "ne",
        "viu",
        "ta",
        "sim",
        "isso",
        "brasil",
        "br",
        "city",
        "bom dia",
        "boa tarde",
        "boa noite",
        "aqui",
        "por favor",
        "pfv",
        "pf",
    )
)
# Whole answers that say "no place": "não sei", "prefiro não dizer".
_NOT_A_PLACE = frozenset(
    {"nao", "sim", "nao sei", "sei la", "nenhuma", "nenhum", "prefiro nao dizer", "prefiro nao informar", "capital"}
)
# A query with one of these words is a sentence about something else: no
# typo guesses and no city picked out of it without a cue.
_SENTENCE_WORDS = frozenset(
    {
        "quero",
        "queria",
        "gostaria",
        "saber",
        "qual",
        "quais",
        "quanto",
        "quando",
        "como",
        "porque",
        "pode",
        "posso",
        "valor",
        "preco",
        "inscricao",
        "inscrever",
        "email",
        "cpf",
        "telefone",
        "celular",
        "whatsapp",
        "nome",
        "evento",
        "congresso",
        "programacao",
        "horario",
        "palestra",
        "pagar",
        "pagamento",
        "pix",
        "boleto",
        "sei",
        "obrigado",
        "ajuda",
        "duvida",
    }
)
# Words that make text look like an address, where a city may sit among
# street names without a cue.
_ADDRESS_WORDS = frozenset(
    {
        "rua",
        "r",
        "av",
        "avenida",
        "alameda",
        "travessa",
        "rodovia",
        "estrada",
        "quadra",
        "qd",
        "lote",
        "lt",
        "conjunto",
        "conj",
        "casa",
        "apto",
        "apartamento",
        "bloco",
        "setor",
        "st",
        "bairro",
        "residencial",
        "condominio",
        "cond",
        "numero",
        "n",
        "no",
        "cep",
        "centro",
        "km",
        "chacara",
        "fazenda",
        "sitio",
        "vila",
    }
)

MAX_CHARS = 1000  # longer text is only scanned for "City UF"
MAX_ANSWER_WORDS = 40  # so is text with more words than an address has
MAX_SCAN_TOKENS = 400  # words scanned in long text (half at the start, half at the end)
_MAX_NAME_TOKENS = 8  # "São José do Vale do Rio Preto" has seven words
_MAX_FUZZY_TOKENS = 6
_MAX_FUZZY_CHARS = 40
_MAX_OPTIONS = 8

# --------------------------------------------------------------------------
# Keys and tokens
# --------------------------------------------------------------------------

_WORD_RE = re.compile(r"[^\W_]+(?:['\u2019\u00b4`][^\W_]+)*")
_HARD_BREAK_RE = re.compile(r"[,;:/|()\[\]{}\n.!?]|\s[-\u2013\u2014]\s|[\u2013\u2014]")
_EMAIL_RE = re.compile(r"[<(]?[\w.+%-]+@[\w-]+(?:\.[\w-]+)+[>).,;:!?]*")
_URL_RE = re.compile(r"(?i)\b(?:https?://|www\.)\S+")
_CEP_RE = re.compile(r"(?<!\d)\d{2}\.?\d{3}-?\d{3}(?!\d)")
_LONG_DIGITS_RE = re.compile(r"[+(]?\d[\d\s().\-]{6,}\d")


def _key(text: str) -> str:
    """Folded words joined by single spaces: ``"Olho-d'Água"`` -> ``"olho dagua"``."""
    return " ".join(_word_key(word) for word in _WORD_RE.findall(unicodedata.normalize("NFC", text)))


@functools.lru_cache(maxsize=8192)
def _word_key(word: str) -> str:
    return re.sub(r"['\u2019\u00b4`]", "", fold(word))


_NUMERALS = {"i": "1", "ii": "2", "iii": "3", "dois": "2", "um": "1"}


def _district_key(key: str) -> str:
    return " ".join(_NUMERALS.get(word, word) for word in key.split())


@dataclass(frozen=True)
class _Token:
    text: str  # as typed (NFC)
    key: str  # folded
    brk: bool  # a hard separator (comma, slash, parenthesis, " - ") comes before it


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    for found in _WORD_RE.finditer(text):
        gap = text[position : found.start()]
        key = _word_key(found.group(0))
        if key:
            tokens.append(_Token(found.group(0), key, bool(tokens) and bool(_HARD_BREAK_RE.search(gap))))
        position = found.end()
    return tokens


def _scrub(text: str) -> str:
    """Remove e-mails, links, CEPs and phone-like digit runs."""
    text = unicodedata.normalize("NFC", text)
    if "@" in text:  # word by word: a regex over a long run without spaces is quadratic
        text = "".join(" , " if _EMAIL_RE.fullmatch(piece) else piece for piece in re.split(r"(\s+)", text))
    text = _URL_RE.sub(" , ", text)
    text = _CEP_RE.sub(" , ", text)
    return _LONG_DIGITS_RE.sub(lambda m: " , " if sum(ch.isdigit() for ch in m.group(0)) >= 8 else m.group(0), text)


def _joined(tokens: list[_Token]) -> str:
    return " ".join(token.key for token in tokens)


def _typed(tokens: list[_Token]) -> str:
    return " ".join(token.text for token in tokens)


# --------------------------------------------------------------------------
# Indexes (built once)
# --------------------------------------------------------------------------

_KIND_ORDER = {"district": 0, "nickname": 1, "name": 2, "short_name": 3}


@dataclass(frozen=True)
class _Reading:
    place: Place
    kind: str  # district | nickname | name | short_name
    clear: bool = True  # False: confirm even when it is the only reading
    display: str = ""  # the name as officially written, for the accent tie-break


@dataclass(frozen=True)
class _Indexes:
    cities: dict[str, tuple[City, ...]]  # folded official name -> municipalities
    districts: dict[str, str]  # district key -> region name
    nicknames: dict[str, tuple[_Nickname, City]]
    short_names: dict[str, tuple[City, ...]]
    states: dict[str, str]  # folded state name or code -> UF
    state_keys: tuple[tuple[tuple[str, ...], str], ...]  # (words, UF), longest first
    brasilia: City
    max_scan_words: int
    fuzzy_pool: dict[str, tuple[str, ...]]  # non-municipality keys for typo search, by kind


@functools.cache
def _indexes() -> _Indexes:
    cities: dict[str, list[City]] = {}
    by_name_uf: dict[tuple[str, str], City] = {}
    for city in load_cities():
        cities.setdefault(_key(city.name), []).append(city)
        by_name_uf[(city.name, city.uf)] = city
    states = (
        {code.lower(): code for code in UF_NAMES}
        | {_key(name): code for code, name in UF_NAMES.items()}
        | _STATE_ALIASES
    )

    short_names: dict[str, list[City]] = {}
    for city in load_cities():
        key = _key(city.name)
        for suffix, uf in _STATE_SUFFIXES.items():
            if city.uf == uf and key.endswith(f" {suffix}"):
                short = key[: -len(suffix) - 1]
                if len(short) > 3 and short not in states:
                    short_names.setdefault(short, []).append(city)

    nicknames = {key: (nick, by_name_uf[(nick.name, nick.uf)]) for key, nick in NICKNAMES.items()}
    districts: dict[str, str] = {}
    for region, spellings in DF_REGIONS.items():
        for spelling in (_key(region), *spellings):
            districts[_district_key(spelling)] = region

    state_keys = tuple(
        sorted(((tuple(key.split()), code) for key, code in states.items()), key=lambda item: -len(item[0]))
    )
    longest = max(len(key.split()) for key in (*cities, *districts, *nicknames, *short_names))
    return _Indexes(
        cities={key: tuple(sorted(found, key=lambda c: c.uf)) for key, found in cities.items()},
        districts=districts,
        nicknames=nicknames,
        short_names={key: tuple(found) for key, found in short_names.items()},
        states=states,
        state_keys=state_keys,
        brasilia=next(city for city in load_cities() if city.ibge_code == BRASILIA_IBGE),
        max_scan_words=min(longest, _MAX_NAME_TOKENS),
        fuzzy_pool={
            "district": tuple(districts),
            "nickname": tuple(key for key in nicknames if len(key) >= 5),
            "short_name": tuple(key for key in short_names if len(key) >= 5),
        },
    )


_COMPASS = ("norte", "sul", "leste", "oeste", "centro")


def _district_of(key: str) -> str | None:
    index = _indexes()
    dkey = _district_key(key)
    if dkey in index.districts:
        return index.districts[dkey]
    head, _, last = dkey.rpartition(" ")
    if last in _COMPASS and head in index.districts:
        return index.districts[head]
    return None


def _readings(key: str, uf: str | None = None, *, loose: bool = True) -> list[_Reading]:
    """Every exact reading of a folded name, restricted to ``uf`` when given."""
    if not key:
        return []
    index = _indexes()
    found: list[_Reading] = []
    if uf in (None, "DF"):
        district = _district_of(key)
        if district:
            found.append(_Reading(Place(index.brasilia, district), "district", display=district))
    nickname = index.nicknames.get(key)
    if nickname is not None:
        nick, city = nickname
        if (uf is None or city.uf == uf) and (not nick.needs_uf or uf == city.uf):
            found.append(_Reading(Place(city), "nickname", clear=nick.clear, display=_spelled(key, city.name)))
    cities = [city for city in index.cities.get(key, ()) if uf is None or city.uf == uf]
    if not cities and loose and len(key) <= 60:
        # Old and variant spellings (Parati, Moji, Itajahy) as match_city reads them.
        matched = match_city(key, uf=uf)
        if not matched.fuzzy:
            cities = [city for city in (matched.city, *matched.candidates) if city is not None]
    is_state = key in index.states and len(key) > 2
    for city in cities:
        # A bare state name that is also a town ("Goiás", "Tocantins"): most
        # people mean the state; confirm. São Paulo and Rio de Janeiro are the
        # capitals people mean.
        clear = not is_state or city.name in ("São Paulo", "Rio de Janeiro")
        found.append(_Reading(Place(city), "name", clear=clear, display=city.name))
    found.extend(
        _Reading(Place(city), "short_name", display=_spelled(key, city.name))
        for city in index.short_names.get(key, ())
        if uf is None or city.uf == uf
    )
    if not found and any(word in _ABBREVIATIONS for word in key.split()):
        expanded = " ".join(_ABBREVIATIONS.get(word, word) for word in key.split())
        if expanded != key:
            return _readings(expanded, uf, loose=loose)
    return _dedupe(found)


def _spelled(key: str, name: str) -> str:
    """How ``key`` is written inside the official ``name``: ("ribeirao", "Ribeirão Preto") -> "Ribeirão".

    ``key`` itself when it is not a run of the name's words ("floripa").
    """
    words = _WORD_RE.findall(name)
    keys = [_word_key(word) for word in words]
    wanted = key.split()
    for i in range(len(words) - len(wanted) + 1):
        if keys[i : i + len(wanted)] == wanted:
            return " ".join(words[i : i + len(wanted)])
    return key


def _dedupe(readings: Iterable[_Reading]) -> list[_Reading]:
    best: dict[Place, _Reading] = {}
    for reading in readings:
        kept = best.get(reading.place)
        if kept is None or _KIND_ORDER[reading.kind] < _KIND_ORDER[kept.kind]:
            best[reading.place] = reading
    return list(best.values())


# --------------------------------------------------------------------------
# UFs typed after the name
# --------------------------------------------------------------------------

_UF_CONNECTIVES = frozenset({"de", "do", "da", "no", "na", "em", "estado", "uf"})


def _split_uf(tokens: list[_Token]) -> tuple[list[_Token], str | None]:
    """``[Santa, Maria, DF]`` -> ``([Santa, Maria], "DF")``; no UF: ``(tokens, None)``.

    A bare state ("Goiás", "estado de SC") gives an empty name.
    """
    keys = [token.key for token in tokens]
    for words, code in _indexes().state_keys:
        n = len(words)
        if len(keys) >= n and tuple(keys[-n:]) == words:
            return _without_connectives(tokens[:-n]), code
    return tokens, None


def _without_connectives(tokens: list[_Token]) -> list[_Token]:
    while tokens and tokens[-1].key in _UF_CONNECTIVES:
        tokens = tokens[:-1]
    return tokens


def _explicit_uf(tokens: list[_Token]) -> str | None:
    """The UF typed after the place name, or alone ("Goiás", "sou do DF").

    ``None`` when the whole text is itself a name that merely ends like a UF
    ("Sento Sé" is in BA, not SE) and no separator ("/", ",", " - ", "(")
    sets the UF apart.
    """
    name, uf = _split_uf(tokens)
    if uf is None:
        return None
    # "Ji-Paraná" and "Sento Sé" are names; "Ji/Paraná" or "Sento, SE" are not.
    separated = len(name) < len(tokens) and tokens[len(name)].brk
    if name and not separated and _readings(_joined(tokens), loose=False):
        return None
    return uf


# --------------------------------------------------------------------------
# Cleaning: noise, cues, tails
# --------------------------------------------------------------------------


def _strip_phrases(tokens: list[_Token], phrases: tuple[tuple[str, ...], ...], *, leading: bool) -> list[_Token]:
    changed = True
    while changed and tokens:
        changed = False
        for phrase in phrases:
            n = len(phrase)
            window = tokens[:n] if leading else tokens[-n:]
            if len(tokens) > n - 1 and tuple(token.key for token in window) == phrase:
                tokens = tokens[n:] if leading else tokens[:-n]
                changed = True
                break
    return tokens


def _strip_noise(tokens: list[_Token]) -> list[_Token]:
    tokens = _strip_phrases(tokens, _LEADING_NOISE, leading=True)
    tokens = _strip_phrases(tokens, _TRAILING_NOISE, leading=False)
    # "Goiânia capital" is Goiânia; "moro na capital" and "capital" are kept.
    if len(tokens) > 1 and tokens[-1].key == "capital" and tokens[-2].key not in _CUE_TOKENS:
        tokens = _strip_phrases(tokens[:-1], _TRAILING_NOISE, leading=False)
    return tokens


def _after_strong_cue(tokens: list[_Token], *, last: bool) -> list[_Token]:
    """The words after the first run (or the last) of cue words: the searched query."""
    start = 0
    for i, token in enumerate(tokens):
        if token.key in _STRONG_CUES and not _is_name_word(tokens, i):
            start = i + 1
            while start < len(tokens) and tokens[start].key in _CUE_TOKENS:
                start += 1
            if not last:
                break
        elif not last and token.key not in _CUE_TOKENS:
            break
    if start >= len(tokens):  # only cue words ("moro em"): search nothing
        return [] if start else tokens
    return tokens[start:]


def _is_name_word(tokens: list[_Token], i: int) -> bool:
    """A cue word that belongs to a name: "Cidade Ocidental", "Distrito Federal"."""
    if i + 1 < len(tokens):
        pair = f"{tokens[i].key} {tokens[i + 1].key}"
        index = _indexes()
        if pair in index.states or any(key.startswith(pair) for key in _names_starting(tokens[i].key)):
            return True
    return False


@functools.cache
def _names_starting(word: str) -> tuple[str, ...]:
    index = _indexes()
    return tuple(key for key in (*index.cities, *index.districts) if key.split(" ", 1)[0] == word)


_RESIDENCE_WORDS = frozenset({"moro", "resido", "vivo", "moramos", "residimos"})
_CLAUSE_ENDS = frozenset({"mas", "porem", "so", "trabalho", "trabalhando", "estudo", "estudando", "nasci", "nascido", "nascida"})


def _residence_clause(tokens: list[_Token]) -> list[_Token]:
    """The words from "moro" to the next "mas"/"trabalho"/"nasci": where they live.

    ``[]`` when no residence verb is typed or the clause is the whole text.
    """
    for i, token in enumerate(tokens):
        if token.key in _RESIDENCE_WORDS:
            end = i + 1
            while end < len(tokens) and tokens[end].key not in _CLAUSE_ENDS:
                end += 1
            while end > i + 1 and tokens[end - 1].key in _CONNECTIVES:
                end -= 1
            clause = tokens[i:end]
            return clause if len(clause) < len(tokens) else []
    return []


def _tail_starts(tokens: list[_Token]) -> Iterator[int]:
    """Where a candidate tail may start: the beginning, after a cue word or a separator."""
    yield 0
    for i in range(1, len(tokens)):
        if tokens[i - 1].key in _CUE_TOKENS or tokens[i].brk:
            yield i


def _segments(tokens: list[_Token]) -> Iterator[list[_Token]]:
    """Pieces between hard separators, left to right ("Goiânia, setor Bueno")."""
    start = 0
    for i in range(1, len(tokens) + 1):
        if i == len(tokens) or tokens[i].brk:
            yield tokens[start:i]
            start = i


# --------------------------------------------------------------------------
# Deciding among readings
# --------------------------------------------------------------------------


def _rank(reading: _Reading, region: tuple[str, ...]) -> tuple:
    uf = reading.place.city.uf
    inside = uf in region
    return (
        0 if inside else 1,
        _KIND_ORDER[reading.kind],
        region.index(uf) if inside else 0,
        reading.place.city.uf,
        reading.place.city.name,
        reading.place.district,
    )


def _accent_tiebreak(readings: list[_Reading], typed: str) -> list[_Reading]:
    """Among readings spelled with the typed letters, keep those whose accents match too.

    "Itapoã" is the DF region and "Itapoá" the town in SC; "Poá" is the town,
    not POA (Porto Alegre). Readings spelled differently (Valparaíso de
    Goiás for "Valparaíso") are never dropped here.
    """
    if len(readings) < 2 or typed.isascii():
        return readings
    wanted = " ".join(_WORD_RE.findall(typed.casefold()))
    group = [r for r in readings if _key(r.display) == _key(typed)]
    exact = [r for r in group if " ".join(_WORD_RE.findall(r.display.casefold())) == wanted]
    if not exact or len(exact) == len(group):
        return readings
    return [r for r in readings if r not in group or r in exact]


@functools.cache
def _short_name_shared(city: City) -> bool:
    """Whether other towns of the UF start like ``city``'s shortened name: "Santa Rita de Minas"
    shortens to "Santa Rita", which Santa Rita do Sapucaí/MG also starts with."""
    short = re.split(r" (?:de|do|da|dos|das) ", fold(city.name), maxsplit=1)[0]
    return any(
        other != city and other.uf == city.uf and fold(other.name).startswith(short + " ") for other in load_cities()
    )


def _conclude(
    readings: list[_Reading],
    region: tuple[str, ...],
    *,
    query: str,
    typed: str,
    source: str = "",
    unsure: bool = False,
) -> PlaceReading | None:
    """One reading settles it; several are options (short names only near the event)."""
    readings = _dedupe(readings)
    if region and any(r.kind != "short_name" for r in readings):
        readings = [r for r in readings if r.kind != "short_name" or r.place.city.uf in region]
    readings = _accent_tiebreak(readings, typed)
    # An official name typed whole, in the event's region, beats names only derived by shortening
    # ("Brasília" is Brasília/DF, not Brasília de Minas/MG); outside the region the short
    # name near the event stays an option ("Valparaíso": Valparaíso de Goiás first, then /SP).
    whole_in_region = [r for r in readings if r.kind == "name" and (not region or r.place.city.uf in region)]
    if len(whole_in_region) == 1 and all(r.kind == "short_name" for r in readings if r not in whole_in_region):
        readings = whole_in_region
    if not readings:
        return None
    if len(readings) == 1:
        only = readings[0]
        # A name reached only by shortening ("Santa Rita MG" -> Santa Rita de Minas) may be one of
        # several towns the list does not shorten (Santa Rita do Sapucaí): confirm it.
        return PlaceReading(
            place=only.place,
            unsure=unsure or not only.clear or (only.kind == "short_name" and _short_name_shared(only.place.city)),
            query=query,
            source=source or only.kind,
        )
    ranked = sorted(readings, key=lambda r: _rank(r, region))[:_MAX_OPTIONS]
    return PlaceReading(
        options=tuple(r.place for r in ranked), query=query, source=source or ranked[0].kind
    )


def _exact(tokens: list[_Token], uf: str | None) -> tuple[list[_Reading], list[_Token]]:
    """Readings of the whole span, or of its name part when a UF ends it."""
    if not tokens or len(tokens) > _MAX_NAME_TOKENS + 4:
        return [], tokens
    if uf is None:
        whole = _readings(_joined(tokens))
        if whole:
            return whole, tokens
    name, typed_uf = _split_uf(tokens)
    if name and typed_uf is not None and uf in (None, typed_uf):
        return _readings(_joined(name), typed_uf), name
    if uf is not None:  # a bare state ("Goiás") is read inside that state only
        return _readings(_joined(tokens), uf), tokens
    return [], tokens


# --------------------------------------------------------------------------
# Scanning longer text
# --------------------------------------------------------------------------


def _uf_at(tokens: list[_Token], j: int) -> tuple[str, int] | None:
    """A UF (code or state name) starting at ``tokens[j]``: (UF, words used)."""
    for words, code in _states_by_first_word().get(tokens[j].key, ()):
        if tuple(token.key for token in tokens[j : j + len(words)]) == words:
            return code, len(words)
    return None


@functools.cache
def _states_by_first_word() -> dict[str, tuple[tuple[tuple[str, ...], str], ...]]:
    grouped: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for words, code in _indexes().state_keys:  # longest first, kept in each group
        grouped.setdefault(words[0], []).append((words, code))
    return {word: tuple(entries) for word, entries in grouped.items()}


def _strong_hits(tokens: list[_Token], uf: str | None) -> list[tuple[list[_Token], list[_Reading]]]:
    """Every "City UF" pair: a name immediately followed by a UF it exists in."""
    index = _indexes()
    hits: list[tuple[list[_Token], list[_Reading]]] = []
    for j in range(1, len(tokens)):
        found = _uf_at(tokens, j)
        if found is None or (uf is not None and found[0] != uf):
            continue
        code, used = found
        end = j
        while end > 0 and tokens[end - 1].key in _UF_CONNECTIVES:
            end -= 1
        for n in range(min(index.max_scan_words, end), 0, -1):
            span = tokens[end - n : end]
            if any(token.brk for token in span[1:]):
                continue
            if _readings(_joined(tokens[end - n : j + used]), loose=False):
                break  # "Bom Jesus do Tocantins" is a name, not Bom Jesus + TO
            readings = _readings(_joined(span), code, loose=False)
            if readings:
                hits.append((span, readings))
                break
    return hits


def _mentions(tokens: list[_Token]) -> list[tuple[list[_Token], list[_Reading]]]:
    """Exact names anywhere (longest first at each position), without a UF."""
    index = _indexes()
    found: list[tuple[list[_Token], list[_Reading]]] = []
    i = 0
    while i < len(tokens):
        step = 1
        for n in range(min(index.max_scan_words, len(tokens) - i), 0, -1):
            span = tokens[i : i + n]
            if any(token.brk for token in span[1:]):
                continue
            key = _joined(span)
            if len(key) < 4 or key in _CUE_TOKENS or key in _ADDRESS_WORDS:
                continue
            readings = _readings(key, loose=False)
            if readings:
                found.append((span, readings))
                step = n
                break
        i += step
    return found


def _district_mentioned(tokens: list[_Token]) -> str | None:
    """The one DF region named anywhere in the text ("Ceilândia, Brasília - DF")."""
    names = set()
    for i in range(len(tokens)):
        for n in range(1, 5):
            if i + n <= len(tokens):
                district = _district_of(_joined(tokens[i : i + n]))
                if district:
                    names.add(district)
    return names.pop() if len(names) == 1 else None


# --------------------------------------------------------------------------
# Typos
# --------------------------------------------------------------------------


# Same thresholds as validators.match_city (edits over the folded name).
def _max_edits_to_settle(length: int) -> int:
    return 0 if length < 5 else 1 if length < 10 else 2


def _max_edits_to_suggest(length: int) -> int:
    return 0 if length < 4 else 1 if length < 8 else 2 if length < 13 else 3


def _fuzzy(key: str, uf: str | None, region: tuple[str, ...]) -> list[tuple[int, _Reading, bool]]:
    """Close readings: (edit distance, reading, whether match_city declined to settle on it)."""
    allowed = _max_edits_to_suggest(len(key))
    if not allowed:
        return []
    index = _indexes()
    scored: list[tuple[int, _Reading, bool]] = []
    for kind, keys in index.fuzzy_pool.items():
        for choice, distance, _ in process.extract(key, keys, scorer=OSA.distance, score_cutoff=allowed, limit=None):
            scored.extend((distance, r, False) for r in _readings(choice, uf, loose=False) if r.kind == kind)
    # The whole list, then each UF of the region: a close town nearby is
    # found even when a farther one is as close.
    for scope in [uf] if uf else [None, *region[:7]]:
        matched: CityMatch = match_city(key, uf=scope)
        exact = not matched.fuzzy and matched.suggestion is None
        for city in (matched.city, *matched.candidates, matched.suggestion):
            if city is None:
                continue
            distance = 0 if exact else OSA.distance(key, _key(city.name))
            if distance <= allowed:
                # A suggestion means match_city saw a tie or a runner-up as close.
                declined = city == matched.suggestion
                scored.append((distance, _Reading(Place(city), "name", display=city.name), declined))
    return scored


def _read_typo(tokens: list[_Token], uf: str | None, region: tuple[str, ...], query: str) -> PlaceReading | None:
    name, typed_uf = _split_uf(tokens)
    if name and typed_uf is not None and uf in (None, typed_uf):
        tokens, uf = name, typed_uf
    key = _joined(tokens)
    if (
        not key
        or len(tokens) > _MAX_FUZZY_TOKENS
        or not 3 <= len(key) <= _MAX_FUZZY_CHARS
        or any(token.key.isdigit() and len(token.key) > 1 for token in tokens)
        or any(token.key in _SENTENCE_WORDS for token in tokens)
        or key in _NOT_A_PLACE
    ):
        return None
    scored = [(d, r, declined) for d, r, declined in _fuzzy(key, uf, region) if uf is None or r.place.city.uf == uf]
    if not scored:
        return None
    best = min(distance for distance, _, _ in scored)
    at_best = _dedupe(r for d, r, _ in scored if d == best)
    declined = any(flag for d, _, flag in scored if d == best)
    ranked = sorted(at_best, key=lambda r: _rank(r, region))
    if best <= _max_edits_to_settle(len(key)):
        if len(at_best) == 1 and not declined:
            return PlaceReading(place=ranked[0].place, unsure=True, query=query, source="typo")
        if len(at_best) > 1 and len({_key(r.display) for r in at_best}) == 1:  # one name, several places
            return PlaceReading(options=tuple(r.place for r in ranked[:_MAX_OPTIONS]), query=query, source="typo")
    return PlaceReading(suggestion=ranked[0].place, query=query, source="typo")


# --------------------------------------------------------------------------
# The reader
# --------------------------------------------------------------------------


def read_place(text: str, *, region: tuple[str, ...] = ()) -> PlaceReading:
    """Read where the participant lives from ``text``; see the module docstring.

    ``region`` is the event's UF and its neighbours (:func:`region_ufs`); it
    ranks options and typo guesses, it never excludes a place. Never raises;
    nothing place-like gives ``PlaceReading()`` (``query`` may hold what was
    searched).
    """
    if not isinstance(text, str) or not text.strip():
        return PlaceReading()
    region = _clean_region(region)
    if len(text) > MAX_CHARS:
        # Only the ends can hold the answer's "City UF"; a word cut at the edge is dropped.
        head = _tokenize(_scrub(text[:MAX_CHARS]))[:-1]
        tail = _tokenize(_scrub(text[-MAX_CHARS:]))[1:]
        if tail:
            tail[0] = _Token(tail[0].text, tail[0].key, True)
        return _read_long([*head, *tail], region)

    tokens = _tokenize(_scrub(text))
    if len(tokens) > MAX_ANSWER_WORDS:
        return _read_long(tokens, region)
    body = _strip_noise(tokens)
    if all(token.key in _CUE_TOKENS for token in body):  # "", "moro aqui"
        return PlaceReading()
    query_tokens = _after_strong_cue(body, last=True)
    lead_tokens = _after_strong_cue(body, last=False)
    query = _typed(query_tokens or lead_tokens or body)
    if _joined(query_tokens) in _NOT_A_PLACE - {"capital"} or _joined(body) in _NOT_A_PLACE - {"capital"}:
        return PlaceReading()

    # "interior de Goiás": a state, not a city.
    cue_start = len(body) - len(query_tokens)
    if (
        query_tokens
        and cue_start >= 1
        and any(t.key == "interior" for t in body[max(0, cue_start - 3) : cue_start])
        and _joined(query_tokens) in _indexes().states
    ):
        return PlaceReading(query=query)

    uf = _explicit_uf(body)
    return _only_uf(_read_answer(body, uf, region, query_tokens, lead_tokens, query), uf)


def _read_answer(
    body: list[_Token],
    uf: str | None,
    region: tuple[str, ...],
    query_tokens: list[_Token],
    lead_tokens: list[_Token],
    query: str,
) -> PlaceReading:
    """Steps 1-5 of the module docstring over a cleaned answer (``uf``: the one typed)."""
    # 1. The whole answer is a name, or a name and its UF.
    readings, span = _exact(body, uf)
    if readings:
        return _finish(readings, body, span, region, uf=uf)
    if uf is not None and not _split_uf(body)[0]:  # a state ("Tocantins"), not a city
        return PlaceReading(query=query)
    # 2. "City UF" somewhere in the text (an address), preferably where they live.
    clause = _residence_clause(body)
    hits = _strong_hits(body, uf)
    if hits:
        inside = [hit for hit in hits if all(any(t is c for c in clause) for t in hit[0])]
        return _from_hits(inside or hits, body, region)
    # 3. A name after a cue ("perto de Rio Verde") or between separators.
    for words in _unique_spans(clause, body):
        for start in _tail_starts(words):
            if start == 0 and words is body:
                continue
            tail = words[start:]
            if _joined(tail) in ("capital", "capital do estado"):
                return _capital(region, query=_typed(tail))
            readings, span = _exact(tail, uf)
            if readings:
                return _finish(readings, body, span, region, uf=uf)
    for segment in _segments(body):
        if segment is not body and len(segment) < len(body):
            readings, span = _exact(_strip_noise(segment), uf)
            if readings:
                return _finish(readings, body, span, region, uf=uf, source="mention", unsure=True)
    if _joined(body) == "capital":
        return _capital(region, query=query)
    sentence = any(token.key in _SENTENCE_WORDS for token in body)
    # 4. A name mentioned without a cue, in a short answer or an address.
    looks_like_address = any(token.key in _ADDRESS_WORDS for token in body)
    if not sentence and (len(body) <= 8 or looks_like_address):
        mentioned: dict[str, tuple[list[_Token], list[_Reading]]] = {}
        for span, found in _mentions(body):
            found = [r for r in found if uf is None or r.place.city.uf == uf]
            if found:
                mentioned.setdefault(_joined(span), (span, found))
        if len(mentioned) == 1:
            ((span, found),) = mentioned.values()
            return _finish(found, body, span, region, uf=uf, source="mention", unsure=True)
    # 5. A typo.
    for candidate in _unique_spans(query_tokens, lead_tokens):
        reading = _read_typo(candidate, uf, region, query=_typed(candidate))
        if reading is not None:
            return reading
    return PlaceReading(query=query)


def _unique_spans(*spans: list[_Token]) -> Iterator[list[_Token]]:
    seen: set[str] = set()
    for span in spans:
        key = _joined(span)
        if span and key not in seen:
            seen.add(key)
            yield span


def _finish(
    readings: list[_Reading],
    body: list[_Token],
    span: list[_Token],
    region: tuple[str, ...],
    *,
    uf: str | None,
    source: str = "",
    unsure: bool = False,
) -> PlaceReading:
    typed = _typed(span)
    if uf is not None:
        readings = [r for r in readings if r.place.city.uf == uf]
    reading = _conclude(readings, region, query=typed, typed=typed, source=source, unsure=unsure)
    if reading is None:
        return PlaceReading(query=typed)
    return _only_uf(_with_district(reading, body), uf)


def _from_hits(
    hits: list[tuple[list[_Token], list[_Reading]]], body: list[_Token], region: tuple[str, ...]
) -> PlaceReading:
    places: dict[Place, _Reading] = {}
    for _, readings in hits:
        for reading in readings:
            places.setdefault(reading.place, reading)
    query = _typed(hits[-1][0])
    readings = list(places.values())
    if len({r.place.city for r in readings}) == 1:
        # One municipality (maybe a DF region too): the most specific reading.
        readings = sorted(readings, key=lambda r: (not r.place.district, _KIND_ORDER[r.kind]))[:1]
    reading = _conclude(readings, region, query=query, typed="", source="address")
    assert reading is not None  # hits are never empty
    return _with_district(
        PlaceReading(place=reading.place, options=reading.options, query=query, source="address"), body
    )


def _with_district(reading: PlaceReading, body: list[_Token]) -> PlaceReading:
    """Brasília with a DF region named elsewhere in the text: keep the region."""
    place = reading.place
    if place is None or place.district or place.city.ibge_code != BRASILIA_IBGE:
        return reading
    district = _district_mentioned(body)
    if district is None:
        return reading
    return PlaceReading(
        place=Place(place.city, district), unsure=reading.unsure, query=reading.query, source=reading.source
    )


def _only_uf(reading: PlaceReading, uf: str | None) -> PlaceReading:
    """The last guard of rule 1: nothing outside a typed UF leaves this module."""
    if uf is None:
        return reading

    def keep(place: Place | None) -> Place | None:
        return place if place is not None and place.city.uf == uf else None

    options = tuple(p for p in reading.options if p.city.uf == uf)
    if len(options) == 1:
        return PlaceReading(place=options[0], unsure=True, query=reading.query, source=reading.source)
    if (
        keep(reading.place) != reading.place
        or keep(reading.suggestion) != reading.suggestion
        or len(options) != len(reading.options)
    ):
        return PlaceReading(
            place=keep(reading.place),
            options=options,
            suggestion=keep(reading.suggestion),
            unsure=reading.unsure,
            query=reading.query,
            source=reading.source,
        )
    return reading


def _capital(region: tuple[str, ...], *, query: str) -> PlaceReading:
    if not region:
        return PlaceReading(query=query)
    uf = region[0]
    city = next(c for c in _indexes().cities[_key(CAPITALS[uf])] if c.uf == uf)
    return PlaceReading(place=Place(city), unsure=True, query=query, source="capital")


def _read_long(tokens: list[_Token], region: tuple[str, ...]) -> PlaceReading:
    """Text too long to be an answer: only "City UF" pairs count, in its first and last words."""
    if len(tokens) > MAX_SCAN_TOKENS:
        half = MAX_SCAN_TOKENS // 2
        tail = tokens[-half:]
        tokens = [*tokens[:half], _Token(tail[0].text, tail[0].key, True), *tail[1:]]
    hits = _strong_hits(tokens, None)
    if not hits:
        return PlaceReading()
    return _from_hits(hits, tokens, region)
