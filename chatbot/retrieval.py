"""Ranked retrieval over the event knowledge (BM25, pt-BR aware).

Text is folded (lower case, no accents), pt-BR stop words are dropped, words
are lightly stemmed (plural endings, then cut to ``STEM_LENGTH`` characters)
and a query word also matches document words that share a long prefix
("inscrever" finds "inscrições"). Keyword phrases that organizers give an FAQ
entry (and the synonyms built into event facts) boost a document when the
question contains them.

Besides the BM25 score every hit carries a ``confidence`` in [0, 1]: the
share of the question's information (IDF-weighted words) the document
covers. A question about something the event knowledge never mentions gets a
low confidence even when some document shares a common word with it, which
is what the offline answerer's threshold relies on.

BM25 is implemented here rather than with ``rank_bm25`` because we need the
per-term IDF for the confidence and prefix expansion, and an inverted index
scores only the documents that share a term with the question.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chatbot.knowledge import DocKind, KnowledgeDoc, get_knowledge_index
from registrations.validators import fold

# Folded pt-BR stop words, plus the few English ones participants mix in.
# Question words that carry meaning here ("onde", "quando", "quanto") are kept.
STOPWORDS: frozenset[str] = frozenset(
    ["a", "o", "as", "os", "um", "uma", "uns", "umas", "de", "do", "da", "dos", "das", "d", "em", "no", "na", "nos", "nas", "num", "numa", "nuns", "numas", "ao", "aos", "a", "as", "por", "pelo", "pela", "pelos", "pelas", "para", "pra", "pro", "pras", "pros", "per", "com", "sem", "sob", "sobre", "ate", "apos", "entre", "contra", "desde", "e", "ou", "mas", "nem", "que", "se", "ja", "so", "tambem", "mais", "menos", "muito", "muita", "muitos", "muitas", "pouco", "bem", "mal", "eu", "tu", "ele", "ela", "nos", "vos", "eles", "elas", "voce", "voces", "vc", "vcs", "me", "te", "lhe", "lhes", "meu", "minha", "meus", "minhas", "teu", "tua", "seu", "sua", "seus", "suas", "nosso", "nossa", "nossos", "nossas", "dele", "dela", "deles", "delas", "isso", "isto", "aquilo", "esse", "essa", "esses", "essas", "este", "esta", "estes", "estas", "aquele", "aquela", "aqueles", "aquelas", "aqui", "ai", "la", "ali", "cade", "ser", "sou", "es", "e", "somos", "sao", "era", "eram", "foi", "foram", "sera", "serao", "seria", "estar", "estou", "esta", "estamos", "estao", "estava", "ter", "tenho", "tem", "temos", "tinha", "tinham", "teve", "havera", "ha", "haver", "houve", "ir", "vou", "vai", "vamos", "vao", "fazer", "faco", "faz", "posso", "pode", "podem", "poderia", "podemos", "devo", "deve", "devem", "preciso", "precisa", "precisamos", "quero", "queria", "gostaria", "saber", "sei", "sabe", "dizer", "diga", "diz", "informar", "informa", "informe", "falar", "fala", "qual", "quais", "que", "quem", "como", "porque", "porquê", "pq", "oi", "ola", "ok", "sim", "nao", "obrigado", "obrigada", "favor", "por", "the", "of", "and", "or", "to", "in", "on", "at", "for", "is", "are", "do", "does", "what", "which", "who", "how", "can", "i", "you", "my", "your", "it", "be"]
)

# Verbs (and a few nouns) that say little about what is asked: in "posso
# levar meu cachorro?" the question is about the dog, not about carrying.
# They still rank documents, but carry only LIGHT_WEIGHT of their
# information in the confidence, so a question whose subject the knowledge
# never mentions is not answered on the strength of its verb. Folded words,
# matched before stemming.
LIGHT_WORDS: frozenset[str] = frozenset(
    re.findall(
        r"\w+",
        "aceita aceitam aceitar levar leva levo levamos levam trazer traz trago trazemos trazem mandar manda mando mandei mandam "
    "enviar envia envio enviei enviam usar usa uso usamos pegar pega pego ver vejo ve achar acho acha "
    "encontrar encontro conseguir consigo consegue colocar coloco botar entrar entro entra sair saio "
    "ficar fico pagar pago paga receber recebo recebe dar da dou ganhar ganho comprar compro compra "
    "vender vendem vende ajudar ajuda duvida duvidas informacao informacoes info coisa coisas algo "
    "alguma algum alguem gente pessoa pessoas hoje amanha agora ainda sempre nunca possivel permitido "
        "necessario obrigatorio sendo caso tipo "
        # Every question is about the event: naming it, or its place, is context.
        "evento eventos congresso cbas local",
    )
)
LIGHT_WEIGHT = 0.25
# A prefix-only match ("piscina" / "piscicultura") covers less of a word's
# information than the word itself.
PREFIX_COVERAGE = 0.5
# A word found only in a document's body, not in its title or keywords, is
# something the document mentions, not what it is about: the Wi-Fi entry says
# its network is "gratuita", which does not answer "o evento é gratuito?".
BODY_COVERAGE = 0.5
# The most specific word of a question that the knowledge mentions somewhere
# ("idoso" in "tem meia entrada pra idoso?") is its subject: a document
# without it answers a neighbouring question, so its confidence is cut.
MISSING_SUBJECT_FACTOR = 0.6
# Words that say what kind of answer is wanted (a time, a place, an amount),
# not what the question is about: never its subject.
ASKING_WORDS = "quando onde hora horas horario horarios quanto quanta quantos quantas fica dia dias data datas"

# A synonym of a question word ("chinelo" -> traje) covers the word almost
# as well as the word itself, and adds this share of its score, so that of
# two documents sharing an ambiguous word ("vaga") the one about the word's
# usual sense at an event (inscrição) ranks first.
SYNONYM_COVERAGE = 0.9
SYNONYM_WEIGHT = 0.5
# Ranking: BM25 score times (RANK_BASE + confidence).
RANK_BASE = 0.5
# A programme session sharing a word with a question is an answer only when
# the question is about the programme ("quem fala sobre ILPF?"), not when it
# asks about a policy ("posso levar meu animal?" vs "Bem-estar animal").
SESSION_WITHOUT_CUE_FACTOR = 0.4
_PROGRAMME_CUES = re.compile(
    r"\b(?:palestr\w*|sessao|sessoes|painel|paineis|minicurso\w*|oficina\w*|workshop|curso\w*|programac\w*|"
    r"agenda|cronograma|grade|apresenta\w*|tema|temas|sobre|fala|falar|falam|falando|fala\w*|quem|quando|hora|horas|"
    r"horario\w*|dia|dias|abertura|encerramento|cerimonia|pitch|debate|mesa|discuss\w*|assunto|atividade\w*|"
    r"segunda|terca|quarta|quinta|sexta|manha|tarde|sala|auditorio|premio|premiac\w*|demonstrac\w*|campo)\b"
)

# Ways participants name a common subject in several words, rewritten to one
# word before tokenizing (folded text in, folded text out).
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\b(?:de graca|sem custo|sem pagar|entrada franca|free|na faixa|0800)\b", " gratis "),
        # "até quando X?" asks when X ends: the event's last day, or a deadline.
        (r"\b(?:ate quando|ate que dia|ate que data)\b", " quando termina "),
        (r"\b(?:data limite|prazo final|ultimo prazo)\b", " prazo "),
        (r"(?:\b(?:60|65)\s*\+|\b(?:terceira|melhor) idade\b|\bmais de (?:60|65) anos\b|\baposentad[oa]s?\b)", " idoso "),
        (r"\b(?:dress code|o que vestir|como ir vestid[oa]|como me vestir)\b", " traje "),
    )
)
# Greetings and thanks inside a question ("eu só queria saber o preço mas
# tudo bem") say nothing about what is asked: dropped from the query.
_PLEASANTRIES_RE = re.compile(
    r"\b(?:tudo (?:bem|bom|certo|joia|tranquilo)|bom dia|boa tarde|boa noite|por favor|pfv|pf|"
    r"muito obrigad[oa]|obrigad[oa]|obg|valeu|vlw|grat[oa]|blz|beleza|abracos?)\b"
)
# Word -> words of the same subject as an event participant means it (folded,
# stemmed when the retriever is built). One way only: "gratuito" is a
# question about prices, but a question about prices is not one about free
# things. Never a subject that would make an unrelated entry confident: idoso
# is NOT meia-entrada (the demo's meia-entrada is for students).
_SYNONYM_WORDS: dict[str, str] = {
    "gratuito gratuita gratuitos gratuitas gratis cobrado cobrada cobram cobra": "preco valor ingresso",
    "vaga vagas": "inscricao lotacao",
    "lotado lotada lotacao esgotado esgotada esgotou esgotaram lotou": "vaga inscricao",
    "prazo": "lote",
    "chinelo chinelos sandalia sandalias havaianas bermuda bermudas shorts short camiseta camisetas regata "
    "terno gravata tenis calca jeans vestido roupa roupas vestimenta vestir traje": "traje roupa vestimenta",
}

STEM_LENGTH = 7
# A query word and a document word sharing this many leading characters match
# with weight PREFIX_WEIGHT (the exact stem matches with weight 1).
PREFIX_MIN = 5
PREFIX_WEIGHT = 0.7
TITLE_WEIGHT = 2
KEYWORD_BOOST = 1.5
MAX_KEYWORD_BOOSTS = 2
BM25_K1 = 1.2
BM25_B = 0.75

_TIME_RE = re.compile(r"\b(\d{1,2})\s*(?:h|:)\s*(\d{2})?\b(?:min)?")
_WORD_RE = re.compile(r"[a-z0-9]+")
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("coes", "cao"),
    ("soes", "sao"),
    ("oes", "ao"),
    ("aes", "ao"),
    ("ais", "al"),
    ("eis", "el"),
    ("ois", "ol"),
    ("ns", "m"),
    ("res", "r"),
    ("zes", "z"),
)


@dataclass(frozen=True)
class ScoredDoc:
    doc: KnowledgeDoc
    score: float
    confidence: float


def _normalize_times(folded: str) -> str:
    def repl(match: re.Match[str]) -> str:
        hour, minutes = match.group(1), match.group(2)
        return f" {int(hour)}h{minutes} " if minutes and minutes != "00" else f" {int(hour)}h "

    return _TIME_RE.sub(repl, folded)


def stem(word: str) -> str:
    """Light pt-BR stemming on a folded word: plural endings, then a prefix cut."""
    if word.isdigit() or len(word) <= 3:
        return word
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    else:
        if word.endswith("s") and word[-2] in "aeiou":
            word = word[:-1]
    return word[:STEM_LENGTH]


def tokenize(text: str) -> list[str]:
    """Folded, stop-word-free, stemmed tokens of ``text``."""
    folded = _normalize_times(fold(text).replace("wi-fi", "wifi").replace("wi fi", "wifi"))
    return [stem(word) for word in _WORD_RE.findall(folded) if word not in STOPWORDS and (len(word) > 1 or word.isdigit())]


def query_text(question: str) -> str:
    """``question`` folded, with common multi-word subjects named by one word and pleasantries dropped."""
    folded = fold(question)
    for pattern, replacement in _PHRASES:
        folded = pattern.sub(replacement, folded)
    return _PLEASANTRIES_RE.sub(" ", folded)


ASKING_TERMS: frozenset[str] = frozenset(stem(word) for word in ASKING_WORDS.split())
SYNONYMS: dict[str, tuple[str, ...]] = {}
for _words, _synonyms in _SYNONYM_WORDS.items():
    for _word in _words.split():
        _stems = tuple(dict.fromkeys(stem(s) for s in _synonyms.split() if stem(s) != stem(_word)))
        SYNONYMS[stem(_word)] = tuple(dict.fromkeys(SYNONYMS.get(stem(_word), ()) + _stems))


def _keyword_phrases(keywords: str) -> list[tuple[str, ...]]:
    phrases = []
    for raw in re.split(r"[,;\n]", keywords):
        tokens = tuple(tokenize(query_text(raw)))
        if tokens:
            phrases.append(tokens)
    return phrases


class Retriever:
    """BM25 over a fixed list of documents (build once per knowledge version)."""

    def __init__(self, docs: Sequence[KnowledgeDoc]) -> None:
        self.docs = list(docs)
        self._postings: dict[str, dict[int, int]] = {}
        self._lengths: list[int] = []
        self._phrases: list[list[tuple[str, ...]]] = []
        # What each document is about: its title and keywords (and the
        # curated search text of a session), as opposed to its body.
        self._topics: list[frozenset[str]] = []
        for position, doc in enumerate(self.docs):
            body = doc.text if doc.search_text is None else doc.search_text
            title = tokenize(doc.title)
            if doc.kind == DocKind.FAQ:
                # "Onde vejo a programação?" is about the programme, not about a place:
                # in an FAQ question the asking word is syntax (its keywords may still say it).
                title = [term for term in title if term not in ASKING_TERMS]
            # Keywords are read like questions ("até quando" is "quando termina" in both).
            keywords = tokenize(query_text(doc.keywords.replace(",", " ")))
            topic = title + keywords
            tokens = title * TITLE_WEIGHT + keywords + tokenize(body)
            self._topics.append(frozenset(topic + (tokenize(body) if doc.search_text else [])))
            self._lengths.append(len(tokens))
            for term, count in Counter(tokens).items():
                self._postings.setdefault(term, {})[position] = count
            boosted = doc.kind in (DocKind.FAQ, DocKind.EVENT)
            self._phrases.append(_keyword_phrases(doc.keywords) if boosted else [])
        self._count = len(self.docs)
        self._avg_length = (sum(self._lengths) / self._count) if self._count else 0.0
        self._by_prefix: dict[str, list[str]] = {}
        for term in self._postings:
            if len(term) >= PREFIX_MIN and not term.isdigit():
                self._by_prefix.setdefault(term[:PREFIX_MIN], []).append(term)
        self._expansions: dict[str, list[tuple[str, float]]] = {}

    def idf(self, term: str) -> float:
        n = len(self._postings.get(term, ()))
        return math.log((self._count - n + 0.5) / (n + 0.5) + 1.0)

    def _expand(self, term: str) -> list[tuple[str, float]]:
        """Vocabulary terms ``term`` matches, with weights (exact 1, shared prefix less)."""
        cached = self._expansions.get(term)
        if cached is not None:
            return cached
        matches: list[tuple[str, float]] = []
        if term in self._postings:
            matches.append((term, 1.0))
        if len(term) >= PREFIX_MIN and not term.isdigit():
            matches += [(other, PREFIX_WEIGHT) for other in self._by_prefix.get(term[:PREFIX_MIN], ()) if other != term]
        self._expansions[term] = matches
        return matches

    def search(self, question: str, *, k: int = 4) -> list[ScoredDoc]:
        if not self.docs:
            return []
        folded = query_text(question)
        light = {stem(word) for word in _WORD_RE.findall(folded) if word in LIGHT_WORDS}
        terms = list(dict.fromkeys(tokenize(folded)))
        if not terms:
            return []
        programme_question = bool(_PROGRAMME_CUES.search(folded))
        scores: dict[int, float] = {}
        covered: dict[int, float] = {}
        total_information = 0.0
        # The question's most specific word the knowledge mentions, and the documents that have it.
        subject_information, subject_docs = 0.0, None
        for term in terms:
            expansions = self._expand(term)
            # A word the knowledge never mentions is as informative as the
            # rarest word: it pulls the confidence down.
            information = max((self.idf(v) for v, _ in expansions), default=self.idf(term))
            if term in light:
                information *= LIGHT_WEIGHT
            total_information += information
            # Per document, the best of the term's expansions counts once, and
            # so does the best of its synonyms (those the question does not
            # already contain: "meia" must not also stand in for "idoso").
            own = self._best_per_doc(expansions)
            synonyms = [s for s in SYNONYMS.get(term, ()) if s not in terms]
            by_synonym = self._best_per_doc([e for s in synonyms for e in self._expand(s)])
            for position in own.keys() | by_synonym.keys():
                own_part, own_coverage = own.get(position, (0.0, 0.0))
                synonym_part, synonym_coverage = by_synonym.get(position, (0.0, 0.0))
                scores[position] = scores.get(position, 0.0) + own_part + SYNONYM_WEIGHT * synonym_part
                coverage = max(own_coverage, SYNONYM_COVERAGE * synonym_coverage)
                covered[position] = covered.get(position, 0.0) + information * coverage
            # Its own rarity, not its rarest prefix sibling's ("entrada" is not "entram").
            specificity = self.idf(term) if term in self._postings else 0.0
            if specificity > subject_information and term not in light and term not in ASKING_TERMS:
                subject_information, subject_docs = specificity, own.keys() | by_synonym.keys()
        query = set(terms)
        for position in list(scores):
            boosts = sum(1 for phrase in self._phrases[position] if self._phrase_in(phrase, query))
            if boosts:
                scores[position] += KEYWORD_BOOST * min(boosts, MAX_KEYWORD_BOOSTS)
        ranked: list[tuple[float, int, ScoredDoc]] = []
        for position, score in scores.items():
            confidence = min(1.0, covered[position] / total_information) if total_information else 0.0
            if self.docs[position].kind == DocKind.SESSION and not programme_question:
                confidence *= SESSION_WITHOUT_CUE_FACTOR
            if subject_docs is not None and position not in subject_docs:
                confidence *= MISSING_SUBJECT_FACTOR
            hit = ScoredDoc(doc=self.docs[position], score=round(score, 4), confidence=round(confidence, 4))
            # A document that covers more of the question outranks one that
            # only repeats one of its words more often.
            ranked.append((-score * (RANK_BASE + confidence), position, hit))
        ranked.sort(key=lambda item: item[:2])
        return [hit for _key, _position, hit in ranked[:k]]

    def _best_per_doc(self, expansions: Iterable[tuple[str, float]]) -> dict[int, tuple[float, float]]:
        """Per document: the best BM25 part among ``expansions``, and how well it covers the word."""
        best: dict[int, tuple[float, float]] = {}
        for vocab_term, weight in expansions:
            idf = self.idf(vocab_term)
            for position, frequency in self._postings[vocab_term].items():
                length_norm = 1 - BM25_B + BM25_B * self._lengths[position] / self._avg_length
                part = weight * idf * frequency * (BM25_K1 + 1) / (frequency + BM25_K1 * length_norm)
                if part > best.get(position, (0.0, 0.0))[0]:
                    coverage = 1.0 if weight >= 1.0 else PREFIX_COVERAGE
                    if vocab_term not in self._topics[position]:
                        coverage *= BODY_COVERAGE
                    best[position] = (part, coverage)
        return best

    @staticmethod
    def _phrase_in(phrase: Iterable[str], query: set[str]) -> bool:
        """Every word of the keyword phrase is in the question (same stem or long shared prefix)."""
        return all(word in query or any(_share_prefix(word, term) for term in query) for word in phrase)


def _share_prefix(a: str, b: str) -> bool:
    return len(a) >= PREFIX_MIN and len(b) >= PREFIX_MIN and a[:PREFIX_MIN] == b[:PREFIX_MIN] and not a.isdigit()


def retrieve(question: str, *, k: int = 4) -> list[ScoredDoc]:
    """The ``k`` documents of the active event that best answer ``question``."""
    return get_knowledge_index().retriever.search(question, k=k)
