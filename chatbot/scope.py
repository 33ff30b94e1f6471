"""What a message handed to the Q&A is, before anything is looked up or stored.

The engine sends every message it does not handle itself to the answerer.
Only real questions plausibly about the event may reach the organizers'
queue; everything else gets a short reply and leaves no trace:

- ``question``: a question form (a question mark, an interrogative word, "tem",
  "posso", "gostaria de saber", ...) about something an event participant
  could ask (programme, place, prices, registration, lodging, children,
  animals, documents, data, ...), or a short request naming such a topic
  ("programação do dia 12").
- ``small_talk``: thanks, greetings, laughter, "ok", "sim", emoji.
- ``off_topic``: football, politics, jokes, general knowledge, market quotes
  ("quanto está a saca de soja?") — anything with no tie to the event.
- ``others_data``: an attempt to look up OTHER people's registrations or
  personal data ("lista de inscritos", "qual o email da Maria Souza?", "dados
  do cpf ..."). Refused in one line, never looked up or queued: each person
  sees only their own registration ("minha inscrição").
- ``noise``: nothing to act on: random letters, only digits, a lone e-mail,
  phone or name, a long text without a question.

Everything here is pure (text in, text out). ``redact_personal_data`` is
what the answerer stores and sends instead of the participant's words.
"""

from __future__ import annotations

import re
import unicodedata

from registrations.validators import fold, fold_keep_length, strip_cpfs

__all__ = [
    "MAX_UNQUESTIONED_CHARS",
    "MessageKind",
    "asks_for_list",
    "asks_for_others_data",
    "question_kind",
    "redact_personal_data",
    "split_questions",
]


class MessageKind:
    QUESTION = "question"
    SMALL_TALK = "small_talk"
    OFF_TOPIC = "off_topic"
    NOISE = "noise"
    OTHERS_DATA = "others_data"


# A text this long without a question in it is a story, not something to answer.
MAX_UNQUESTIONED_CHARS = 400
# Parts of a multi-part question answered one by one; the rest is ignored.
MAX_PARTS = 3

# --------------------------------------------------------------------------
# Personal data
# --------------------------------------------------------------------------

EMAIL_PLACEHOLDER = "[e-mail]"
CPF_PLACEHOLDER = "[CPF]"
PHONE_PLACEHOLDER = "[telefone]"
NUMBER_PLACEHOLDER = "[número]"

_EMAIL_RE = re.compile(r"[\w.+%-]*\w@[\w-]+(?:\.[\w-]+)*")
_CPF_REMOVED = "[CPF removido]"
# Brazilian phones as people type them: +55, a DDD in parentheses or not,
# 8 or 9 digits split by a space, dot or hyphen.
# Without a DDD the two halves must be split ("9888-7777"): eight bare digits
# are more often a protocol number, masked below anyway.
_PHONE_RE = re.compile(
    r"(?<![\w/])(?:(?:\+?\s?55[\s.-]?)?(?:\(\s?\d{2}\s?\)\s?|\d{2}[\s.-]?)9?\s?\d{4}[\s.-]?\d{4}"
    r"|9?\d{4}[\s.-]\d{4})(?![\w/])"
)
# Identifier-like runs (passports, RG, cards, protocol numbers): at least six
# digits, optionally with letters glued in front or separators inside.
_LONG_NUMBER_RE = re.compile(r"(?<![\w/])[A-Za-z]{0,4}\d[\d.\-\s]{4,}\d[A-Za-z]{0,2}(?![\w/])")
_MIN_ID_DIGITS = 6


def _long_number(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if digits < _MIN_ID_DIGITS:
        return text
    # Keep a trailing separator the pattern swallowed ("123456 e ...").
    return NUMBER_PLACEHOLDER + (" " if text.endswith(" ") else "")


def redact_personal_data(text: str) -> str:
    """``text`` with e-mails, CPFs, phones and long numbers replaced by placeholders.

    "[e-mail]", "[CPF]", "[telefone]", "[número]". CPF detection is the
    registration's own (``strip_cpfs``: any CPF-shaped number, valid or not).
    Dates ("15/03/2027"), times and prices are kept: they are what a question
    is about, never who asks it.
    """
    redacted = _EMAIL_RE.sub(EMAIL_PLACEHOLDER, text or "")
    redacted = strip_cpfs(redacted).replace(_CPF_REMOVED, CPF_PLACEHOLDER)
    redacted = _PHONE_RE.sub(PHONE_PLACEHOLDER, redacted)
    return _LONG_NUMBER_RE.sub(_long_number, redacted)


_PLACEHOLDER_RE = re.compile(r"\[(?:e-mail|cpf|telefone|numero|número)\]", re.IGNORECASE)


def without_placeholders(text: str) -> str:
    return _PLACEHOLDER_RE.sub(" ", text)


# --------------------------------------------------------------------------
# Lexicons (folded: lower case, no accents)
# --------------------------------------------------------------------------


def _alternation(words: str) -> str:
    return "|".join(sorted((w.strip() for w in words.split(",") if w.strip()), key=len, reverse=True))


_SMALL_TALK_WORDS = (
    "oi, oie, oii, ola, opa, eai, e ai, hey, hello, hi, bom dia, boa tarde, boa noite, tudo bem, tudo bom, "
    "tudo certo, td bem, tudo joia, como vai, blz, beleza, ok, okay, okey, certo, certinho, entendi, entendido, "
    "perfeito, otimo, otima, show, legal, massa, top, bacana, maravilha, valeu, vlw, obrigado, obrigada, "
    "obrigadao, obg, brigado, brigada, muito obrigado, muito obrigada, grato, grata, agradeco, de nada, "
    "tchau, tchauzinho, ate mais, ate logo, ate breve, abraco, abracos, sim, nao, s, n, claro, pode ser, "
    "combinado, ta bom, ta, ta certo, isso, isso mesmo, aham, uhum, hum, humm, hmm, ah, ata, ahh, ue, "
    "boa, bom, muito bom, que bom, amem, deus abencoe, fico feliz, gostei, adorei, parabens, "
    "voce e um robo, vc e um robo, e um robo, robo, quem e voce, quem e vc, tudo otimo, e voce, e vc, "
    "que legal, que otimo, que massa, que bom, que show, que lindo, que top, que bacana, muito legal"
)
_SMALL_TALK_RE = re.compile(
    rf"\b(?:{_alternation(_SMALL_TALK_WORDS)})\b|\b(?:k{{2,}}|(?:ha|he|hi|hu|rs){{2,}}h?|rs|kk)\b"
)

# What a participant of an agribusiness congress may ask about. A prefix
# matches the start of a folded word ("inscri" finds "inscricao", "inscrito").
_EVENT_PREFIXES = (
    "evento, congress, cbas, palestr, programa, agenda, cronograma, grade, sessao, sessoes, painel, paineis, "
    "minicurso, oficina, workshop, curso, feira, estande, stand, expositor, expor, exposic, patrocin, "
    "local, lugar, endereco, cidade, goiania, centro de eventos, auditorio, sala, pavilhao, data, datas, dia, "
    "dias, horario, hora, comeca, comec, inicio, termina, termino, abertura, encerramento, cerimonia, "
    "credenci, cracha, credencial, inscri, inscrev, cadastr, matricul, ingresso, entrada, preco, valor, custa, "
    "custo, taxa, pag, pix, boleto, cartao, parcel, desconto, cupom, meia, estudante, lote, gratuit, gratis, "
    "reembols, cancel, transfer, certificad, declarac, hotel, hoteis, hosped, pousada, dormir, acomodac, "
    "aliment, comida, comer, almoc, lanche, cafe, coffee, jantar, refeic, restaurante, bebida, agua, "
    "estacion, vaga, carro, moto, onibus, uber, taxi, transporte, translado, aeroporto, rodoviaria, chegar, "
    "acessib, acessiv, cadeirante, cadeira de rodas, deficien, libras, pcd, idoso, crianc, filho, filha, bebe, "
    "menor, kids, familia, acompanhante, esposa, marido, cachorro, cao, caes, pet, animal, animais, gato, "
    "documento, identidade, comprovante, carteirinha, traje, roupa, vestir, vestimenta, sapato, bota, "
    "dress code, chinelo, bermuda, calcado, amament, gestante, fraldario, "
    "wifi, wi-fi, internet, tomada, banheiro, seguranca, dados, privacidade, lgpd, confirmac, resumo, "
    "trabalho, poster, artigo, submiss, apresentar, sorteio, brinde, kit, material, slides, gravac, gravad, "
    "transmiss, online, ao vivo, fumar, alcool, organizac, organizador, contato, whatsapp, site, participa, "
    "palestrante, expositores, agro, agricultur, pecuari, sustentab, carbono, soja, bioinsumo, drone, credito, "
    "plano safra, pronaf, startup, premio, premiac, campo, voces, vcs, ai no, la no, no local, no evento, "
    "inscrito, grupo, caravana, excurs, reserva, vagas"
)
_EVENT_RE = re.compile(rf"\b(?:{_alternation(_EVENT_PREFIXES)})")

_OFF_TOPIC_WORDS = (
    "futebol, jogo, jogos, time, flamengo, corinthians, palmeiras, vasco, gremio, cruzeiro, atletico, "
    "botafogo, fluminense, copa do mundo, campeonato, brasileirao, gol, gols, selecao, neymar, "
    "politica, eleicao, eleicoes, presidente, lula, bolsonaro, governo federal, partido, deputado, senador, "
    "stf, capital da, capital do, historia do brasil, descobriu, descobrimento, piada, charada, "
    "receita de, bolo, filme, filmes, serie, novela, netflix, musica, cantor, cantora, horoscopo, signo, "
    "bitcoin, cripto, bolsa de valores, loteria, mega sena, namorada, namorado, namorar, casar comigo, "
    "previsao do tempo, vai chover, chuva em, tempo em, temperatura em, sentido da vida, deus existe, "
    "religiao, chatgpt, matematica, raiz quadrada"
)
_OFF_TOPIC_RE = re.compile(rf"\b(?:{_alternation(_OFF_TOPIC_WORDS)})\b|\b\d+\s*[-+x*/]\s*\d+\b")

# Market quotes: commodities are the congress's themes ("soja" is on topic),
# but today's price of a bag of soy is not something the event knows.
_COMMODITIES = "soja|milho|boi|gado|bezerro|trigo|algodao|feijao|arroz|leite|cafe em grao|sorgo|etanol|acucar"
_MARKET_RE = re.compile(
    r"\b(?:sacas?|arrobas?|cotac\w*|bushels?|dolar|cbot|bolsa de chicago|mercado futuro|"
    rf"(?:preco|valor)\s+(?:d[aoe]s?\s+)?(?:{_COMMODITIES}|fertilizante\w*|adubo|diesel|terra|hectare)|"
    rf"(?:quanto|qto)\s+(?:esta|ta|vale|custa|paga\w*)\s+(?:(?:a|o|um|uma|hoje)\s+)?(?:{_COMMODITIES}))\b"
)
# Nouns that tie such a message back to the event ("a palestra fala da cotação?").
_EVENT_CORE_RE = re.compile(
    r"\b(?:evento|congress|cbas|palestr|painel|paineis|sessao|minicurso|oficina|feira|estande|expositor|"
    r"programac|inscri|ingresso|credenci)"
)

# Someone else's data. People are named by a placeholder (a CPF, e-mail or
# phone typed in), a word for another person, or a capitalised name that is
# not the event's own (checked on the original text).
_OTHER_PERSON = (
    r"(?:\[(?:cpf|e-mail|telefone|numero)\]|cpf|fulan[oa]|ciclan[oa]|beltran[oa]|outra pessoa|outro participante|"
    r"(?:meu|minha|um|uma|esse|essa|este|esta|aquele|aquela)\s+(?:filh[oa]|espos[oa]|marido|mulher|colega|amig[oa]|"
    r"irma|irmao|pai|mae|chefe|socio|socia|funcionari[oa]|namorad[oa]|cliente|vizinh[oa]|primo|prima|"
    r"tio|tia|pessoa|participante|inscrit[oa]))"
)
_PERSONAL_FIELDS = (
    r"(?:dados|e-?mail|emails|telefone|celular|numero|whats\w*|zap|cpf|endereco|contato|inscricao|cadastro|"
    r"situacao|status|nome|rg)"
)
_OTHERS_DATA_RE = re.compile(
    # Lists of participants or of their details.
    r"\b(?:lista|listagem|relacao|relatorio|planilha|nomes|contatos|e-?mails|telefones|numeros|cpfs|dados|whats\w*)"
    r"\s+(?:\w+\s+){0,2}(?:inscrit[oa]s|participantes|cadastrad[oa]s|credenciad[oa]s|congressistas|"
    r"pessoas inscritas|outras pessoas)\b"
    # Who registered.
    r"|\bquem\s+(?:mais\s+)?(?:ja\s+)?(?:se\s+)?(?:inscreveu|inscreveram|cadastrou|cadastraram|"
    r"(?:esta|estao|e|sao|ta|tao)\s+(?:os\s+)?(?:inscrit|cadastrad|participantes))"
    r"|\b(?:algum|alguem|alguma pessoa|quais|quantos)\s+(?:\w+\s+)?(?:inscrit[oa]s?|participantes?|cadastrad[oa]s?)"
    r"\s+(?:de|da|do|em|no|na)\b"
    # One person's details, or whether they registered.
    rf"|\b{_PERSONAL_FIELDS}\s+(?:d[oa]s?|de|dess[ea]|dest[ea])\s+{_OTHER_PERSON}"
    rf"|\b(?:consult\w*|verific\w*|pesquis\w*|procur\w*|busc\w*|checa\w*|puxa\w*)\s+(?:\w+\s+)?"
    rf"(?:o|a|esse|este|pelo|pela)\s+(?:cpf|\[cpf\]|\[e-mail\]|e-?mail|inscricao|cadastro)\b"
    rf"|{_OTHER_PERSON}\s+(?:ja\s+)?(?:esta|ta|e|foi)\s+(?:inscrit|cadastrad|confirmad)"
)
_NAME = r"[A-ZÀ-Ý][a-zà-ÿ]+(?:\s+(?:d[aeo]s?\s+)?[A-ZÀ-Ý][a-zà-ÿ]+)*"
_NAMED_PERSON_RE = re.compile(
    rf"\b(?i:{_PERSONAL_FIELDS.replace('endereco', 'endere[cç]o').replace('situacao', 'situa[cç][aã]o')})"
    rf"\s+(?i:d[oa]|de)\s+(?P<name>{_NAME})"
    rf"|(?P<subject>{_NAME})\s+(?i:j[aá]\s+)?(?i:est[aá]|t[aá]|foi)\s+(?i:inscrit|cadastrad)"
)
# Capitalised words that name the event, its organizers or places, not a
# participant, and capitalised sentence starts ("Qual o email...", "Meu filho...").
_NOT_A_PERSON = frozenset(
    re.findall(
        r"\w+",
        "qual quais quem como onde quando o a os as meu minha seu sua eu voce voces ele ela ja ai oi ola "
        "bom boa por favor me pode posso tem "
        "organizacao organizadora organizadores organizador comissao equipe cbas congresso evento centro hotel "
        "pousada secretaria comercial suporte atendimento feira empresa aeroporto goiania goias brasil site "
        "whatsapp agro cerrado auditorio sala pavilhao ipe vereda buriti",
    )
)

# Question forms. Open ones ("qual", "quem") need an event topic; the ones
# that ask what there is or what one may do ("tem?", "posso?", "onde?",
# "quando?") are about the event by default: the participant is asking us.
_OPEN_QUESTION = "qual, quais, quem, o que, oque, que, por que, porque, pq, como, quanto, quantos, quantas, qto, qtos"
_IMPLICIT_QUESTION = (
    "tem, tera, vai ter, vao ter, havera, ha, existe, existem, posso, pode, podem, podemos, poderia, preciso, "
    "precisa, precisamos, devo, deve, aceita, aceitam, aceitem, da pra, da para, consigo, e possivel, "
    "e permitido, e proibido, e necessario, e obrigatorio, inclui, incluso, esta incluso, onde, aonde, cade, "
    "quando, que horas, ate que horas, a que horas, quanto custa, quanto e, quanto fica, como chego, "
    "como chegar, como faco, como faz, como funciona, vale, serve, sabe, sabem, alguem sabe, voces tem, "
    "vcs tem, voces vendem, vcs vendem, tem como"
)
_REQUEST = (
    "gostaria de saber, queria saber, quero saber, preciso saber, gostaria de informacoes, gostaria de informacao, "
    "me diga, me diz, me fala, me fale, me informa, me informe, me explica, me explique, me manda, me mande, "
    "me passa, me passe, me envia, me envie, informacao sobre, informacoes sobre, info sobre, infos sobre, "
    "duvida, duvidas, saber se, saber sobre, pode me, poderia me, tenho uma pergunta, uma pergunta, "
    "gostaria, queria"
)
# "é possível?" folds to "e possivel": a leading "e" is not filler.
_LEADING_FILLER_RE = re.compile(rf"^(?:(?:{_alternation(_SMALL_TALK_WORDS)}|mas|entao|pessoal|gente)\b[\s,!.]*)+")
_OPEN_START_RE = re.compile(rf"^(?:{_alternation(_OPEN_QUESTION)})\b")
_IMPLICIT_START_RE = re.compile(rf"^(?:{_alternation(_IMPLICIT_QUESTION)})\b")
_REQUEST_RE = re.compile(rf"\b(?:{_alternation(_REQUEST)})\b")

_LIST_RE = re.compile(r"\b(?:programac|programa\b|cronograma|grade|agenda|lista|todos|todas|precos|valores|ingressos)")
_WORD_RE = re.compile(r"[a-z]+")
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_SHORT_WORDS_OK = frozenset(re.findall(r"\w+", "vc vcs pq tb q e o a os as um de do da no na em eu tu ele ja so se la ai ha"))


def _gibberish(word: str) -> bool:
    if len(word) < 3:
        return False
    if not any(ch in "aeiouy" for ch in word):
        return word not in _SHORT_WORDS_OK
    if re.search(r"[^aeiouy]{5,}", word) or re.search(r"(.)\1\1", word):
        return True
    if len(word) >= 4 and any(word in row for row in _KEYBOARD_ROWS):
        return True
    # "asdasd", "jfjfjf": a short chunk repeated.
    return any(len(word) >= 2 * size and word == word[:size] * (len(word) // size) for size in (2, 3))


def _is_symbols_only(text: str) -> bool:
    return not any(unicodedata.category(ch)[0] in "LN" for ch in text)


def _has_symbol(text: str) -> bool:
    return any(unicodedata.category(ch) in ("So", "Sk") for ch in text)


def _question_form(folded: str, raw: str) -> tuple[bool, bool]:
    """(is a question, is about the event by its form alone)."""
    start = _LEADING_FILLER_RE.sub("", folded).lstrip(" ,.!")
    implicit = bool(_IMPLICIT_START_RE.match(start))
    asked = "?" in raw or implicit or bool(_OPEN_START_RE.match(start)) or bool(_REQUEST_RE.search(folded))
    return asked, implicit


def asks_for_others_data(text: str) -> bool:
    """``text`` asks for other people's registrations or personal data (never answered)."""
    redacted = redact_personal_data(text or "")
    if _OTHERS_DATA_RE.search(fold(redacted)):
        return True
    for match in _NAMED_PERSON_RE.finditer(redacted):
        name = match.group("name") or match.group("subject")
        first = fold(name.split()[0])
        if first not in _NOT_A_PERSON:
            return True
    return False



def question_kind(text: str) -> str:
    """One of ``MessageKind``: what ``text`` is, decided from the text alone."""
    raw = (text or "").strip()
    if not raw:
        return MessageKind.NOISE
    if _is_symbols_only(raw):
        # "👍", "❤️", "🙏🙏" are small talk; "???" and "..." are noise.
        return MessageKind.SMALL_TALK if _has_symbol(raw) else MessageKind.NOISE
    folded = fold(without_placeholders(redact_personal_data(raw)))
    words = _WORD_RE.findall(folded)
    if not words:
        return MessageKind.NOISE  # only digits, an e-mail, a phone, a CPF
    if asks_for_others_data(raw):
        return MessageKind.OTHERS_DATA
    leftover = _SMALL_TALK_RE.sub(" ", folded)
    if not _WORD_RE.findall(leftover):
        return MessageKind.SMALL_TALK
    if sum(_gibberish(w) for w in words) * 2 >= len(words) or all(len(w) <= 2 for w in words):
        return MessageKind.NOISE
    asked, implicit = _question_form(folded, raw)
    # "bom dia, quem ganhou o jogo?": the greeting's "dia" is not the event's.
    on_topic = bool(_EVENT_RE.search(leftover))
    if _OFF_TOPIC_RE.search(leftover) and not on_topic:
        return MessageKind.OFF_TOPIC
    if _MARKET_RE.search(leftover) and not _EVENT_CORE_RE.search(leftover):
        return MessageKind.OFF_TOPIC
    if not asked:
        if len(raw) > MAX_UNQUESTIONED_CHARS or not on_topic:
            return MessageKind.NOISE
        # "programação do dia 12", "quero ser expositor": a request.
        return MessageKind.QUESTION
    if on_topic or implicit:
        return MessageKind.QUESTION
    return MessageKind.OFF_TOPIC


# --------------------------------------------------------------------------
# Multi-part questions
# --------------------------------------------------------------------------

_CLAUSE_START = _alternation(_OPEN_QUESTION + ", " + _IMPLICIT_QUESTION)
# " e " or ", " right before a new question word starts a new question.
_CLAUSE_SPLIT_RE = re.compile(rf"(?:\s+e\s+|\s*[,;]\s*(?:e\s+)?)(?=(?:{_CLAUSE_START})\b)", re.IGNORECASE)
_SENTENCE_SPLIT_RE = re.compile(r"(?<=\?)|\n+")


def split_questions(text: str) -> list[str]:
    """The separate questions in ``text`` (at most ``MAX_PARTS``), in order.

    Splits after each "?" and before " e <question word>" / ", <question
    word>": "onde vai ser e quanto custa?" -> ["onde vai ser", "quanto custa?"].
    A long text keeps only its sentences that end with "?".
    """
    text = (text or "").strip()
    sentences = [s.strip() for s in _SENTENCE_SPLIT_RE.split(text) if s and s.strip()]
    if len(text) > MAX_UNQUESTIONED_CHARS:
        asked = [s for s in sentences if s.endswith("?")]
        sentences = [s.rsplit(". ", 1)[-1] for s in asked] or sentences
    parts: list[str] = []
    for sentence in sentences:
        # Split on the folded copy (accents would hide "é possível"), cut the original.
        folded = _fold_keep_length(sentence)
        start = 0
        for match in _CLAUSE_SPLIT_RE.finditer(folded):
            parts.append(sentence[start : match.start()])
            start = match.end()
        parts.append(sentence[start:])
    cleaned = [strip_filler(p.strip(" ,;.")).strip(" ,;.!") for p in parts]
    cleaned = [p for p in cleaned if _WORD_RE.search(fold(p))]
    return cleaned[:MAX_PARTS] or [text]


def strip_filler(text: str) -> str:
    """``text`` without a leading greeting or thanks ("Bom dia! Tem wifi?" -> "Tem wifi?")."""
    match = _LEADING_FILLER_RE.match(_fold_keep_length(text))
    rest = text[match.end() :] if match else text
    return rest if _WORD_RE.search(fold(rest)) else text


_fold_keep_length = fold_keep_length


def asks_for_list(text: str) -> bool:
    """The participant asked for something long on purpose (the programme, all prices)."""
    return bool(_LIST_RE.search(fold(text)))
