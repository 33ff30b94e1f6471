"""One yes/no lexicon for the whole bot: consent, summary, erasure, "você quis dizer…?".

Pure functions (no database, no network). The reading works on a message as a
sequence of tokens: folded words (case and accents ignored, letters repeated
for emphasis collapsed, so "simmm", "issoo" and "okkk" read as "sim", "isso",
"ok"), separators (, . ; : ! - newline …), question marks and a few emoji.

A message *starts with an answer* when its first words are answer phrases
("sim", "pode ser", "claro que sim", "não concordo", 👍) and politeness
("por favor", "obrigado", "senhor", "então", "opa"), in any number, with
punctuation between them ("Sim, concordo.", "ok, pode confirmar 👍"). Then:

* a question mark among or right after them makes the message a question,
  never an answer ("sim?", "é isso?", "pode ser?", "ok??"); so does one that
  ends the same clause with no separator ("sim qual o preço?"), and "ou"
  ("sim ou não");
* opposite answers cancel out: "sim, não" and "não, tudo certo" are no
  answer;
* what follows is the *rest*. An answer followed by a contrast ("mas",
  "porém", "só que", "menos", "exceto", "no entanto", "e não"…) is not a
  plain answer; nor is a yes whose rest asks for a correction ("errado",
  "corrigir", "trocar", "mudou", "falta"…). Such a yes is a *yes with
  reservation*: "sim, mas o e-mail está errado" must not confirm a
  registration. A correction after a no agrees with it ("não, quero
  corrigir o e-mail" is "no");
* otherwise the rest is data for the caller ("sim, concordo. meu nome é
  Pedro" is "yes" with the rest "meu nome é Pedro"), questions included
  ("Sim. Qual o endereço?" is "yes" with the rest "Qual o endereço?");
* loose answers ("ok", "pode", "certo", "é", "quero", "no", "n", a bare
  "não") need a separator before any rest, because without one they usually
  start a sentence that is not an answer: "pode ser no sábado", "é o meu
  CPF", "não sei", "no sábado", "ok vou pensar". Firm answers ("sim",
  "concordo", "aceito", "confirmo", "autorizo", 👍) and negated verbs ("não
  concordo", "não quero", "quero não") do not: "sim meu nome é Pedro" is
  "yes", "não concordo com os termos" is "no".

Emoji: 👍 ✅ ✔️ ☑️ 👌 🆗 🤝 🙆 are yes; 👎 ❌ ✖️ 🚫 ⛔ 🙅 ❎ are no; 🙏 (please /
thank you) and every other emoji are ignored, so "🙏" alone is no answer and
"sim 🙏" is yes. Action words that only make sense for one question ("pode
apagar", "cancela") are the caller's to read: in this lexicon they are no
answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from registrations.validators import strip_accents

__all__ = ["NO", "YES", "read_yes_no", "split_yes_prefix", "yes_with_reservation"]

YES = "yes"
NO = "no"

# Polarity of a lexicon phrase: an answer, or words that only add politeness.
_FILLER = "filler"

_YES_EMOJI = "\U0001f44d\u2705\u2714\u2611\U0001f44c\U0001f197\U0001f91d\U0001f646"
_NO_EMOJI = "\U0001f44e\u274c\u2716\U0001f6ab\u26d4\U0001f645\u274e"
_EMOJI_YES_WORD = "emojisim"
_EMOJI_NO_WORD = "emojinao"

# Lexicon blocks list phrases separated by commas; words inside a phrase by spaces.
# Loose answers: a rest needs a separator before it (see the module docstring).
_YES_LOOSE = """
s, si, y, yeah, yep, yup, ok, okay, okey, oki, oks,
certo, correto, certinho, isso, isso mesmo, isso ai, exato, exatamente,
confirma, confirmar, confirmado, confirmada, pode confirmar,
pode, pode ser, pode sim, pode ser sim, pode seguir, pode continuar, pode prosseguir, pode mandar,
pode enviar, pode finalizar, pode ir, pode fazer,
claro, claro que sim, claro sim,
beleza, blz, bele, tudo certo, tudo ok, tudo bem, tudo certinho, tudo correto, tudo perfeito, tudo otimo,
ta, tah, ta bom, tabom, ta certo, ta correto, ta ok, ta otimo, ta perfeito, ta beleza,
ta tudo certo, ta tudo ok, ta tudo bem,
esta certo, esta correto, esta ok, esta perfeito, esta tudo certo, esta tudo ok, esta tudo correto,
aham, ahan, aha, uhum, unhum, hum hum, hm hm, mhm,
eh, eh isso, eh isso mesmo, eh isso ai, eh sim, eh verdade,
positivo, afirmativo, com certeza, certeza, certamente, sem duvida,
perfeito, otimo, fechado, combinado, joia, show, top, legal, massa,
bora, vamos, vamo, vamos la, bora la, simbora,
de acordo, estou de acordo, to de acordo,
quero, quero sim, acho que sim, to dentro, estou dentro
"""
# Firm answers: a rest may follow with no separator.
_YES_FIRM = f"""
sim, sim senhor, sim senhora, yes,
concordo, aceito, confirmo, autorizo, consinto,
concordo sim, aceito sim, confirmo sim, autorizo sim, {_EMOJI_YES_WORD}
"""
_NO_LOOSE = """
nao, naum, n, no, nops, nop, nope,
negativo, jamais, nunca, nem, nem pensar, de jeito nenhum, de jeito algum, de forma alguma,
de forma nenhuma, de modo algum, nem a pau, nem ferrando,
errado, esta errado, ta errado, incorreto, esta incorreto, ta incorreto,
isso nao, claro que nao, com certeza nao, acho que nao
"""
_NO_FIRM = f"""
recuso, discordo, {_EMOJI_NO_WORD},
quero nao, pode nao, concordo nao, aceito nao, autorizo nao, confirmo nao
"""
_FILLERS = """
por favor, porfavor, pf, pfv, pfvr, pls, please,
obrigado, obrigada, obg, brigado, brigada, valeu, vlw, grato, grata,
senhor, senhora, sr, sra, ne, entao, bom, ah, oh, opa, eu, ja, tambem,
haha, hehe, rs, kk
"""
# Negation words that turn a following answer phrase into "no" ("não
# concordo", "não pode ser", "n quero").
_NEGATIONS = frozenset({"nao", "naum", "n", "nem"})

# A rest starting like this makes the answer a reservation ("sim, mas…").
_CONTRAST = """
mas, porem, entretanto, contudo, todavia, no entanto, so que, so, apenas, somente,
menos, exceto, tirando, fora, e nao
"""
# A rest containing one of these asks for a correction ("sim, o e-mail está errado").
_CORRECTION_RE = re.compile(
    r"\b("
    r"errad[oa]s?|erro|incorret[oa]s?|corrig\w*|corrij\w*|correcao|"
    r"troc(ar|a|ou|ado|ada)|troque|mud(ar|a|ou|e|ado|ada|anca)|alter(ar|a|ou|e|ado|ada|acao)|"
    r"edit(ar|a|e)|ajust(ar|a|e)|arrum(ar|a|e)|consert(ar|a|e)|"
    r"falt(a|ou|ando|ar)|nao (eh|esta|ta)"
    r")\b"
)


def _squeeze(word: str) -> str:
    """Collapse letters repeated for emphasis: "simmm" -> "sim", "ss" -> "s".

    Applied to the lexicon too, so "isso" and "issoo" meet at "iso".
    """
    return re.sub(r"([a-z])\1+", r"\1", word)


def _phrases(block: str) -> list[tuple[str, ...]]:
    """The phrases of a lexicon block, each as a tuple of squeezed words."""
    return [
        tuple(_squeeze(word) for word in phrase.split())
        for phrase in block.replace("\n", " ").split(",")
        if phrase.strip()
    ]


@dataclass(frozen=True)
class _Entry:
    polarity: str  # YES, NO or _FILLER
    firm: bool


def _build_lexicon() -> dict[tuple[str, ...], _Entry]:
    lexicon: dict[tuple[str, ...], _Entry] = {}
    for block, entry in (
        (_FILLERS, _Entry(_FILLER, firm=True)),
        (_YES_LOOSE, _Entry(YES, firm=False)),
        (_YES_FIRM, _Entry(YES, firm=True)),
        (_NO_LOOSE, _Entry(NO, firm=False)),
        (_NO_FIRM, _Entry(NO, firm=True)),
    ):
        for phrase in _phrases(block):
            lexicon[phrase] = entry
    return lexicon


_LEXICON = _build_lexicon()
_LONGEST = max(len(phrase) for phrase in _LEXICON)
_CONTRASTS = frozenset(_phrases(_CONTRAST))

# Token kinds.
_WORD, _SEP, _QUESTION = "word", "sep", "question"
_TOKEN_RE = re.compile(
    rf"(?P<word>\w+)|(?P<question>[?\u00bf])|(?P<sep>[,.;:!\u00a1\u2026\-\u2013\u2014/|()\n]+)"
    rf"|(?P<yes>[{_YES_EMOJI}])|(?P<no>[{_NO_EMOJI}])"
)


@dataclass(frozen=True)
class _Token:
    kind: str
    word: str  # folded and squeezed (words only), for the lexicon
    plain: str  # folded only, for the correction words
    start: int


def _fold_word(raw: str) -> str:
    if raw in ("é", "É"):  # "é" (it is) is a yes; a bare "e" (and) is not
        return "eh"
    return "".join(ch for ch in strip_accents(raw.lower()) if "a" <= ch <= "z" or "0" <= ch <= "9")


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for found in _TOKEN_RE.finditer(text):
        kind = found.lastgroup
        if kind == "word":
            plain = _fold_word(found.group(0))
            if plain:
                tokens.append(_Token(_WORD, _squeeze(plain), plain, found.start()))
        elif kind == "yes":
            tokens.append(_Token(_WORD, _EMOJI_YES_WORD, "", found.start()))
        elif kind == "no":
            tokens.append(_Token(_WORD, _EMOJI_NO_WORD, "", found.start()))
        elif kind == "question":
            tokens.append(_Token(_QUESTION, "", "", found.start()))
        else:
            tokens.append(_Token(_SEP, "", "", found.start()))
    return tokens


def _words_at(tokens: list[_Token], i: int, size: int) -> tuple[str, ...] | None:
    """``size`` consecutive words from ``tokens[i]``, or None if a non-word interrupts."""
    chunk = tokens[i : i + size]
    if len(chunk) < size or any(token.kind != _WORD for token in chunk):
        return None
    return tuple(token.word for token in chunk)


def _match(tokens: list[_Token], i: int) -> tuple[_Entry, int] | None:
    """The longest lexicon phrase at ``tokens[i]`` (negations included), with its size."""
    for size in range(_LONGEST, 0, -1):
        words = _words_at(tokens, i, size)
        if words is not None and words in _LEXICON:
            entry = _LEXICON[words]
            # "não concordo", "não pode ser", "nem a pau" is in the lexicon itself.
            if words[0] in _NEGATIONS and size == 1 and entry.polarity == NO:
                negated = _match(tokens, i + 1)
                if negated is not None and negated[0].polarity == YES:
                    return _Entry(NO, firm=True), 1 + negated[1]
            return entry, size
    return None


@dataclass(frozen=True)
class _Reading:
    answer: str | None  # YES or NO; None: no answer phrase, or a question
    rest_start: int | None  # token index where the rest starts (None: no rest)
    separated: bool  # a separator between the last answer phrase and the rest
    firm: bool  # the last answer phrase was a firm one
    conflict: bool = False  # the rest starts with the opposite answer ("sim, não")


def _read(tokens: list[_Token]) -> _Reading:
    """Consume the answer phrases and politeness at the start of ``tokens``."""
    answer: str | None = None
    firm = False
    separated = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.kind == _QUESTION:
            return _Reading(None, None, separated, firm)
        if token.kind == _SEP:
            separated = True
            i += 1
            continue
        if answer and _starts_with_contrast(tokens, i):
            break  # "Sim. No entanto…": "no" starts the "but", it is not an answer
        matched = _match(tokens, i)
        if matched is None:
            break
        entry, size = matched
        if entry.polarity == _FILLER:
            i += size
            continue
        if answer and not entry.firm and _word_follows(tokens, i + size):
            # A loose phrase running into more words starts the rest, not an
            # answer: "não, quero corrigir o e-mail", "sim, tá errado o CPF".
            break
        if answer and entry.polarity != answer:
            return _Reading(answer, i, separated, firm, conflict=True)
        answer, firm, separated = entry.polarity, entry.firm, False
        i += size
    if answer is None:
        return _Reading(None, None, separated, firm)
    return _Reading(answer, i if i < len(tokens) else None, separated, firm)


def _word_follows(tokens: list[_Token], i: int) -> bool:
    return i < len(tokens) and tokens[i].kind == _WORD


def _starts_with_contrast(tokens: list[_Token], i: int) -> bool:
    return any(_words_at(tokens, i, size) in _CONTRASTS for size in (1, 2))


def _question_before_separator(tokens: list[_Token], i: int) -> bool:
    for token in tokens[i:]:
        if token.kind == _SEP:
            return False
        if token.kind == _QUESTION:
            return True
    return False


def _rest_text(text: str, tokens: list[_Token], i: int | None) -> str:
    return "" if i is None else text[tokens[i].start :].strip()


def _rest_words(tokens: list[_Token], i: int) -> str:
    return " ".join(token.plain for token in tokens[i:] if token.kind == _WORD)


def split_yes_prefix(text: str) -> tuple[str | None, str]:
    """Split a message that starts with a plain answer into ``(answer, rest)``.

    ``answer`` is ``"yes"``, ``"no"`` or ``None``; ``rest`` is the original
    text after the answer (stripped), ``""`` when the message is only the
    answer. When ``answer`` is ``None`` the rest is the whole stripped text.

    * ``"Sim, concordo."`` -> ``("yes", "")``
    * ``"sim, concordo. meu nome é Pedro"`` -> ``("yes", "meu nome é Pedro")``
    * ``"não, o e-mail é ana@x.com"`` -> ``("no", "o e-mail é ana@x.com")``
    * ``"sim?"``, ``"sim, mas o CPF está errado"``, ``"não sei"``,
      ``"pode ser no sábado"``, ``"sim, não"`` -> ``(None, text)``

    A question mark right after the answer makes it no answer; a question in
    the rest ("Sim. Qual o endereço?") does not: the caller answers it. The
    full rules are in the module docstring.
    """
    tokens = _tokens(text)
    reading = _read(tokens)
    whole = text.strip()
    if reading.answer is None:
        return None, whole
    if reading.rest_start is None:
        return reading.answer, ""
    if reading.conflict:
        return None, whole
    if _starts_with_contrast(tokens, reading.rest_start):
        return None, whole
    if reading.answer == YES and _CORRECTION_RE.search(_rest_words(tokens, reading.rest_start)):
        return None, whole  # a correction after a "no" agrees with it
    if not reading.separated:
        if not reading.firm or tokens[reading.rest_start].word == "ou":
            return None, whole  # "pode ser no sábado", "sim ou não"
        if _question_before_separator(tokens, reading.rest_start):
            return None, whole  # "sim qual o preço?" is one sentence, and a question
    return reading.answer, _rest_text(text, tokens, reading.rest_start)


def read_yes_no(text: str) -> str | None:
    """``"yes"``, ``"no"`` or ``None`` for a message that starts with a plain answer.

    The same as ``split_yes_prefix(text)[0]``: a message that starts with a
    plain answer and goes on with data counts as that answer. Callers that
    must not lose the data use :func:`split_yes_prefix`; a ``None`` may be a
    yes with reservation (see :func:`yes_with_reservation`).
    """
    return split_yes_prefix(text)[0]


def yes_with_reservation(text: str) -> bool:
    """True for a yes followed by a "but" or by a correction request.

    "sim, mas…", "ok porém…", "sim, só que o email ta errado", "isso, menos o
    cpf", "sim, o e-mail está errado", "sim, tá errado", "sim e não", "ok,
    mas é pago?" -> True. A plain yes, a yes followed by data, any no, "não,
    mas…" -> False. :func:`read_yes_no` is ``None`` whenever this is True.
    """
    tokens = _tokens(text)
    reading = _read(tokens)
    if reading.answer != YES or reading.rest_start is None:
        return False
    return _starts_with_contrast(tokens, reading.rest_start) or bool(
        _CORRECTION_RE.search(_rest_words(tokens, reading.rest_start))
    )
