"""What a message is, decided once for every entry point.

``route(text, ...)`` reads one participant message and says what it is: a
command (menu, help, back, cancel, a person, the participant's own
registration, ...), a question for the Q&A, small talk, a message in another
language, or plain text (the answer to the pending question, or noise). The
engine acts on the result, and hands the registration flow the part it needs
(:class:`registrations.flow.Understood`), so the flow never guesses intent
again.

Rules worth knowing:
- a question is answered as a question even when it holds a command word
  ("vocês vendem meus dados?" is not "meus dados"), except the few questions
  that *are* the command ("como faço para me inscrever?", "estou inscrito?",
  "pode corrigir meu e-mail?");
- "voltar" inside the registration goes back one question; outside it opens
  the menu;
- a correction names a field ("errei o email", "na verdade meu cpf é …",
  "meu nome está errado") and may carry the new value.

Pure: no database, no settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from registrations.flow import Understood
from registrations.reading.answers import read_yes_no
from registrations.reading.numbers import read_choice
from registrations.validators import find_cpf, find_email, fold, fold_words

__all__ = ["Routed", "field_in", "looks_like_question", "route", "words_of"]


words_of = fold_words  # folded words, punctuation and emoji turned into spaces


# --------------------------------------------------------------------------
# Questions
# --------------------------------------------------------------------------

_QUESTION_START_RE = re.compile(
    r"^(e )?(qual|quais|quando|onde|aonde|como|quanto|quantos|quantas|quem|que horas|que dia|o que|oque|por que|porque|"
    r"pq|pra que|para que|tem|teria|tera|vai ter|havera|ha|posso|podemos|podem|pode se|preciso|precisa|precisamos|"
    r"existe|existem|sera|aceita|aceitam|da pra|da para|e possivel|seria possivel|voces|vcs|vc|voce|a programacao|o evento|"
    r"sobre o|sobre a|gostaria de saber|queria saber|quero saber|me fala|me diga|me diz|me informa|duvida|tenho uma duvida|"
    r"uma duvida|cade|devo|deve|inclui|vale|serve|funciona)\b"
)


def looks_like_question(text: str) -> bool:
    """A question mark, or a message that starts the way pt-BR questions do."""
    return "?" in text or bool(_QUESTION_START_RE.match(words_of(text)))


# --------------------------------------------------------------------------
# Fields named in a message
# --------------------------------------------------------------------------

_FIELD_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"\be ?mail\b|\bemail\b|\bmail\b|\bemeio\b")),
    ("full_name", re.compile(r"\b(nome|sobrenome)\b")),
    ("cpf", re.compile(r"\bcpf\b")),
    ("phone", re.compile(r"\b(telefone|celular|fone|numero de (telefone|celular|contato)|whatsapp|whats|zap|tel)\b")),
    ("city", re.compile(r"\b(cidade|municipio|estado|uf|endereco|moro|mora|morando|resido)\b")),
    ("profile", re.compile(r"\b(perfil|categoria|profissao|ocupacao)\b")),
)
FIELD_ORDER: tuple[str, ...] = ("full_name", "email", "cpf", "phone", "city", "profile")


def field_in(text: str) -> str | None:
    """The one field a message names, by its summary number (1-6, in words too) or its name."""
    choice = read_choice(text, len(FIELD_ORDER))
    if choice is not None:
        return FIELD_ORDER[choice - 1]
    words = words_of(text)
    found = [name for name, pattern in _FIELD_WORDS if pattern.search(words)]
    return found[0] if len(found) == 1 else None


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------

_MENU_RE = re.compile(r"^(o |ver o |abrir o |voltar (ao|para o|pro) )?(menu|menu principal|opcoes|inicio|comecar de novo|recomecar)( por favor)?$")
_HELP_RE = re.compile(r"^(ajuda|help|socorro|me ajuda|preciso de ajuda|como funciona|como funciona isso)( por favor)?$")
_BACK_RE = re.compile(
    r"^(quero |pode )?(voltar|volta|volte|voltar uma|voltar um|voltar atras|volta atras|anterior|pergunta anterior|"
    r"voltar (a|para a|pra) pergunta anterior|voltar (uma|um) (etapa|passo|pergunta))( por favor)?$"
)
_CANCEL_RE = re.compile(
    r"^(quero |pode |vou |pode )?(cancelar|cancela|cancele|sair|parar|pare|desistir|desisto|encerrar|interromper)"
    r"( (a |essa |esta |o )?(inscricao|cadastro|tudo|isso|conversa))?( por favor)?$"
)
_CANCEL_LOOSE = frozenset({"nao quero mais", "deixa pra la", "esquece", "deixa quieto", "nao quero mais me inscrever"})
# Who a person is, in a request for one.
_PERSON = (
    r"(organizacao|organizador|organizadores|organizadora|atendente|atendentes|humano|humana|alguem|pessoa|"
    r"pessoa de verdade|pessoa real|responsavel|equipe|suporte|gente|voces|operador|operadora|funcionario|"
    r"ser humano|moderador|pessoal)"
)
_HUMAN_RE = re.compile(
    # "quero falar com alguém (da organização)", "atendimento com uma pessoa", "ser atendido por um humano"
    r"\b(falar|fala|conversar|converso|atendimento|falar direto|ser atendid[oa]|me atender|me atende)"
    r" (com |por |pel[ao] )?(a |o |um |uma |alguem d[ao] |algum |os |as )?" + _PERSON + r"\b"
    # a bare "atendente", "humano", "tem alguém aí?"
    r"|^(atendente|atendentes|humano|atendimento|atendimento humano|suporte|operador|pessoa|uma pessoa|"
    r"alguem ai|tem alguem ai|oi tem alguem ai|alguem|quero atendimento|preciso de atendimento)( por favor| pf| pfv)?$"
    # "me liga", "pode me ligar?", "alguém pode me ligar?", "liga pra mim" (imperative only)
    r"|^(me )?(liga|ligue|ligar|telefona)( para mim| pra mim)?( por favor| pf| agora| urgente)?$"
    r"|^(pode|podem|alguem pode|voces podem|da para|tem como|teria como|poderiam|podia|poderia) me "
    r"(liga|ligue|ligar|telefonar)\b"
    r"|^me (liga|ligue|ligar) (por favor|pf|agora|urgente|assim que|quando puder|no|nesse|neste)\b"
    r"|\b(liga|ligue) (para|pra) mim\b"
    # "me passa pra um atendente", "chama alguém", "quero um humano"
    r"|\b(quero|preciso de|chama|chame|chamar|me passa|me passe|passa|transfere|transferir|me transfere|me transfira)"
    r" (para |pro |com )?(um |uma |o |a )?(atendente|humano|ser humano|operador|pessoa de verdade|pessoa real)\b"
    r"|\b(chama|chame|chamar|me passa|me passe|transfere|transferir|me transfere|me transfira)"
    r" (para |pro |com )?(um |uma |o |a |alguem (d[ao] )?)?" + _PERSON + r"\b"
    r"|\bpreciso (de ajuda|da ajuda) de (uma pessoa|um humano|um atendente|alguem da organizacao)\b"
    r"|\b(atendimento|atendente) humano\b"
    r"|\bnao quero (falar|conversar) com (robo|bot|maquina|assistente virtual)\b"
    r"|^(oi |ola |voces |voce )*(tem|ha) (alguem|uma pessoa|um atendente|algum atendente|um humano) "
    r"(de verdade|para me atender|para conversar)\b"
    r"|\b(tem|ha) (alguem|uma pessoa|um atendente|algum atendente|um humano) (ai|online|atendendo)\b"
    r"|\b(alguem|uma pessoa|um atendente|um humano) (ai )?(para|que possa) (falar|conversar) comigo\b"
)
# Not a request for a person: a question about contact or hours, a
# negation, someone else's call, "vou falar com minha esposa".
_NOT_HUMAN_RE = re.compile(
    r"\b(quando|horario|que horas)\b|\b(qual|quais)\b.*\b(telefone|numero|whatsapp|e ?mail|contato)\b"
    r"|\bnao (me )?(liga|ligue|ligar|ligam|precisa)\b|\b(liga|ligue) nao\b"
    r"|\bnao quero (falar|conversar) com (um |uma |o |a |os )?(atendente|humano|pessoa|ninguem|alguem|organizacao|equipe)\b"
    r"|\b(vou|vamos|deixa eu|deixe eu|tenho que|vou ter que|preciso ver|vou ver)( ainda)? (falar|conversar|ver|consultar)\b"
    r"|\b(com|a|o) (meu|minha|meus|minhas)\b|\bpessoa (juridica|fisica)\b"
)
# A complaint a person should take, whatever else the message holds...
_COMPLAINT_RE = re.compile(
    r"\b(pessimo|horrivel|ridiculo|vergonhoso|lamentavel) (atendimento|servico|organizacao|evento|suporte)\b"
    r"|\b(que|isso e um|isso eh um|um) (absurdo|palhacada|descaso|desrespeito|falta de respeito)\b"
    r"|\b(ninguem|nenhum) (me )?(responde|atende|resolve|retorna)\b|\bvoces nao (respondem|atendem|resolvem|retornam)\b"
    r"|\b(estou|to|fiquei|muito) insatisfeit[oa]\b"
    r"|\bquero (meu|o meu) dinheiro de volta\b|\bvou (processar|denunciar)\b"
    r"|\b(robo|bot|assistente|voce) (burro|inutil|nao entende nada|nao me entende|nao esta me entendendo)\b"
    r"|\bvoce nao (entende|entendeu) nada\b|\bnao (esta|ta) me entendendo\b"
)
# ... and words that are one only when the message is not a question about
# something else ("onde fica a ouvidoria?", "o que acontece se eu for cobrado duas vezes?").
_COMPLAINT_WEAK_RE = re.compile(
    r"\b(reclamacao|reclamacoes|reclamar|reclamando|reclamo|queixa|procon|reclame aqui)\b"
    r"|\b(cobranca|cobrado|cobraram|debito|descontaram) (indevid[oa]|duas vezes|em dobro|errad[oa]|a mais)\b"
)
_QUESTION_WORDS_RE = re.compile(r"\b(onde|qual|quais|como|o que|oque|se eu|caso|tem espaco|existe|pode|posso)\b")


def asks_for_a_person(words: str) -> bool:
    """Whether folded ``words`` ask for a person (the handoff)."""
    return bool(_HUMAN_RE.search(words)) and not _NOT_HUMAN_RE.search(words)


def complains(words: str, *, question: bool) -> bool:
    """Whether folded ``words`` are a complaint a person should take."""
    if _COMPLAINT_RE.search(words):
        return True
    return bool(_COMPLAINT_WEAK_RE.search(words)) and not (question and _QUESTION_WORDS_RE.search(words))


_MY_DATA_RE = re.compile(r"^(meus dados|quais (sao )?meus dados|ver meus dados|dados pessoais|meus dados pessoais)( por favor)?$")
_ERASE_DATA_RE = re.compile(
    r"^(quero )?(apagar|excluir|deletar|remover|esquecer|apaguem|apague|exclua|excluam) (todos )?(os )?meus dados"
    r"( pessoais)?( por favor)?$"
)
_CORRECT_RE = re.compile(
    r"\b(corrigir|corrige|corrijam?|correcao|alterar|altera|alteracao|mudar|muda|trocar|troca|atualizar|atualiza|"
    r"editar|edita|consertar|arrumar|arruma)\b"
)
_WRONG_RE = re.compile(
    r"\b(errei|errado|errada|erro|digitei errado|escrevi errado|mandei errado|enviei errado|ta errado|esta errado|"
    r"na verdade|nao e esse|nao e este|saiu errado|incorreto|incorreta|mudou|mudei|troquei|trocou)\b"
)
_RESEND_RE = re.compile(
    r"\b(reenvi\w*|envi\w* de novo|mand\w* de novo|envi\w* novamente|mand\w* novamente|nao recebi|nao chegou|"
    r"nao recebeu)\b"
)
_CANCEL_REGISTRATION_RE = re.compile(
    r"\b(cancel\w*|desistir|desisto)\b.*\b(inscricao|cadastro|registro|participacao|vaga)\b"
)
_MY_REGISTRATION_RE = re.compile(
    r"\b(minha inscricao|meu cadastro|meu registro|ver (a |minha )?inscricao|consultar (a |minha )?inscricao|"
    r"status da (minha )?inscricao|situacao da (minha )?inscricao|dados da (minha )?inscricao|estou inscrit[oa]|"
    r"to inscrit[oa]|ja (me )?inscrevi|sou inscrit[oa]|ja fiz (a |minha )?inscricao|ja estou cadastrad[oa]|"
    r"estou cadastrad[oa]|meus dados da inscricao)\b"
)
# A question about one's own registration that is answered by showing it.
_STATUS_QUESTION_RE = re.compile(
    r"\b(estou inscrit[oa]|to inscrit[oa]|sou inscrit[oa]|ja (me )?inscrevi|ja estou cadastrad[oa]|estou cadastrad[oa]|"
    r"(minha )?inscricao (foi|ta|esta) (confirmad|feit|certa|ok)\w*|situacao da (minha )?inscricao|"
    r"status da (minha )?inscricao|como (esta|ta) (a )?minha inscricao|deu certo (a )?minha inscricao)\b"
)
_REGISTER_RE = re.compile(
    r"\b(inscrev\w*|inscreve\w*|increv\w*|cadastr\w*|quero participar|fazer (a |uma )?(minha |nossa )?inscricao|"
    r"faco (a |uma )?(minha )?inscricao|realizar (a )?(minha )?inscricao|me registrar|garantir (a |minha )?vaga|"
    r"quero (ir|participar) (no|do|ao|na|da) (congresso|evento|feira)|quero ir no congresso|"
    r"(gostaria|queria|quero) de participar|gostaria de participar)\b"
)
_UNDO_CANCEL_RE = re.compile(
    r"\b(desfazer (o )?cancelamento|desisti de cancelar|nao quero (mais )?cancelar|quero manter( a| minha)? inscricao|"
    r"reativar( a| minha)? inscricao|voltar (a )?(me )?inscrever|cancelei sem querer|cancelei errado)\b"
)
_REGISTER_HOW_RE = re.compile(r"\b(como (faco|faz|eu faco|posso|consigo|que faz|que faco)|onde (faco|faz|me))\b")
_REGISTER_ALONE = frozenset(
    {"inscricao", "inscricoes", "cadastro", "registro", "quero inscricao", "quero participar", "fazer inscricao",
     "quero me inscrever", "inscrever", "me inscrever", "participar"}
)  # fmt: skip
_NOT_A_SIGNUP_RE = re.compile(
    r"\b(quando|prazo|ate|quanto|valor|valores|preco|precos|custa|gratis|gratuit\w*|pag\w*|lote|transferir|"
    r"transferencia|documento|precisa|preciso|meia)\b"
)
_OTHER_PERSON_RE = re.compile(
    r"\b(outra pessoa|outras pessoas|mais uma (pessoa|inscricao)|nova inscricao|outra inscricao|mais alguem|"
    r"(mais um|mais uma|um|uma|outro|outra) (funcionari\w*|colaborador\w*|empregad\w*|aluno|aluna|colega|socio|socia)|"
    r"agora mais (um|uma)|"
    r"(minha|meu|minhas|meus) (esposa|esposo|marido|mulher|filho|filha|filhos|filhas|pai|mae|irmao|irma|"
    r"funcionario|funcionaria|funcionarios|colega|colegas|socio|socia|amigo|amiga|sobrinho|sobrinha|neto|neta|"
    r"genro|nora|primo|prima|cunhado|cunhada|namorado|namorada|noivo|noiva|equipe|empregado|empregada|"
    r"colaborador|colaboradora|aluno|aluna|alunos)|(para|pra|pro) (ele|ela|eles|elas))\b"
)

# --------------------------------------------------------------------------
# Small talk and other languages
# --------------------------------------------------------------------------

_GREETING_RE = re.compile(
    r"^(\s*(oi+e?|ola+|opa+|eai|eae|e ai|e ae|hey|hello|hi|oie|salve|bom dia|boa tarde|boa noite|bom diaa|boa|ei|alo+|inicio|"
    r"comecar|start)( (pessoal|tudo|gente|amigo|amiga|bot|robo))?( (tudo bem|tudo bom|td bem|tudo certo|como vai|"
    r"blz|beleza|tranquilo))?( com voce| com vc)?)+$"
)
_HOW_ARE_YOU_RE = re.compile(r"^(tudo bem|tudo bom|td bem|como vai|como voce esta|como vc ta|tudo certo)( com voce| com vc)?$")
_THANKS_RE = re.compile(
    r"^((muito )?(obrigad[oa]s?|obg|obgd|brigad[oa]|grat[oa]|valeu|vlw|agradeco|thanks|thank you|gracias)"
    r"( demais| mesmo| pela ajuda| viu| ta| entao)*( (ok|tchau|ate mais|abraco|abracos))?)$"
)
_BYE_RE = re.compile(r"^(tchau|ate mais|ate logo|ate breve|falou|flw|abraco|abracos|fui|bye)( (obrigad[oa]|valeu))?$")
_LAUGH_RE = re.compile(r"^(k{3,}|(ha){2,}h?|(he){2,}h?|rs(rs)+|kkk\w*|huahua\w*)$")  # "rs" alone is a UF

_EN_WORDS = frozenset(
    {"the", "i", "you", "how", "what", "where", "when", "is", "are", "do", "does", "can", "register", "registration",
     "english", "speak", "please", "hello", "hi", "my", "name", "want", "would", "like", "event", "help", "price",
     "ticket", "tickets", "thanks", "thank", "sign", "up", "portuguese", "don't", "dont", "understand", "much", "cost",
     "passport", "foreigner", "am", "from", "there", "anyone", "who", "need", "this", "it", "which", "have"}
)  # fmt: skip
_ES_WORDS = frozenset(
    {"hola", "quiero", "inscribirme", "inscripcion", "donde", "cuanto", "cuesta", "gracias", "usted", "espanol",
     "habla", "hablas", "necesito", "ayuda", "evento", "como", "puedo", "soy", "yo", "el", "la", "es", "por", "favor",
     "buenos", "dias", "buenas", "tardes", "noches", "pasaporte", "extranjero", "precio", "entiendo", "portugues",
     "hablo", "registrarme", "cuando", "nombre", "mi", "quisiera", "tengo", "pregunta", "alguien"}
)  # fmt: skip
# Words a Spanish speaker types that no Portuguese message has.
_ES_ONLY = frozenset(
    {"hola", "quiero", "inscribirme", "inscripcion", "donde", "cuanto", "cuesta", "gracias", "usted", "espanol", "habla",
     "hablas", "necesito", "ayuda", "puedo", "yo", "buenos", "buenas", "pasaporte", "extranjero", "precio", "entiendo",
     "hablo", "registrarme", "cuando", "nombre", "quisiera", "tengo", "pregunta", "alguien", "dias", "tardes", "noches",
     "el", "es", "hay", "pero", "cual", "cuales", "quien", "tambien", "ustedes", "puedes", "evento?"}
) - {"ajuda", "como", "evento", "tardes", "quando", "onde"}  # fmt: skip
_EN_ONLY = _EN_WORDS - {"do", "a", "me", "up", "no", "event"}
_PT_MARKERS = frozenset(
    {"nao", "voce", "vc", "eu", "meu", "minha", "quero", "sim", "obrigado", "obrigada", "evento", "inscricao", "qual",
     "onde", "quando", "oi", "ola", "bom", "boa", "tudo", "tem", "pra", "para", "com", "que", "de", "do", "da", "em"}
)  # fmt: skip


def _language(words: list[str]) -> str:
    if not words:
        return "pt"
    if len(words) == 1:
        # One word is rarely enough; only the unmistakable ones.
        return {"hello": "en", "hola": "es", "english": "en", "espanol": "es", "gracias": "es"}.get(words[0], "pt")
    pt = sum(word in _PT_MARKERS for word in words)
    en = sum(word in _EN_ONLY for word in words)
    es = sum(word in _ES_ONLY for word in words)
    if en >= 2 and en > pt and en > es:
        return "en"
    if es >= 2 and es > pt and es >= en:
        return "es"
    return "pt"


# --------------------------------------------------------------------------
# The router
# --------------------------------------------------------------------------

MENU_OPTIONS_NEW = ("register", "info", "my_registration", "human")
MENU_OPTIONS_REGISTERED = ("register_other", "info", "my_registration", "human")


@dataclass(frozen=True)
class Routed:
    """What one message is. ``command`` is ``None`` for plain text and questions."""

    text: str
    words: str
    command: str | None = None  # see the module docstring and ``route``
    field: str | None = None  # the field a correction names
    question: bool = False
    small_talk: str | None = None  # "greeting", "how_are_you", "thanks", "bye", "laugh"
    language: str = "pt"  # "pt", "en" or "es"

    @property
    def empty(self) -> bool:
        return not self.words and not self.text.strip()

    def for_flow(self) -> Understood:
        return Understood(intent=self.command, question=self.question, field=self.field, small_talk=self.small_talk)


def _registration_command(words: str, text: str, question: bool) -> tuple[str | None, str | None]:
    """The registration command in ``words`` (and the field it names), or ``(None, None)``."""
    if _UNDO_CANCEL_RE.search(words):
        return "register", None  # after a cancellation, registering again brings the data back for review
    named = field_in(text) if not re.fullmatch(r"\d+", words) else None
    if _CANCEL_REGISTRATION_RE.search(words) and not re.search(r"\b(se|caso|e se|prazo|ate quando|reembolso|devolv)\w*", words):
        return "cancel_registration", None
    mentions_email = bool(re.search(r"\be ?mail\b|\bemail\b|\bconfirmacao\b", words))
    if _RESEND_RE.search(words) and (mentions_email or words.startswith("reenvi")):
        return "resend", None
    corrective = _CORRECT_RE.search(words) or _WRONG_RE.search(words)
    other_person = _OTHER_PERSON_RE.search(words) and (_REGISTER_RE.search(words) or len(words.split()) <= 6)
    if other_person and re.search(r"\b(me inscrever|me cadastrar|eu e (a |o )?(minha|meu)|nos dois|a gente)\b", words):
        return "register", None  # "quero me inscrever eu e minha esposa": oneself first, then the other
    if other_person and not corrective and not (question and _NOT_A_SIGNUP_RE.search(words)):
        return "register_other", None
    about_data = named or re.search(r"\b(dados|dado|inscricao|cadastro)\b", words) or len(words.split()) == 1
    if corrective and about_data and (not question or re.search(r"\b(meu|minha|meus|minhas)\b", words)):
        return "correct", named
    if re.fullmatch(r"(meu |o meu |minha |a minha )?(nome|sobrenome|e ?mail|email|cpf|telefone|celular|cidade|perfil)"
                    r" (esta|ta|saiu|ficou|veio) (errad[oa]|incorret[oa]|trocad[oa])", words):
        return "correct", named
    if question and re.search(r"\b(quero|queria|gostaria de) (me inscrever|fazer (a |minha )?inscricao)\b", words):
        return "register", None  # "quero me inscrever, quanto é a de estudante?": both (the flow answers the question)
    if question:
        if _STATUS_QUESTION_RE.search(words):
            return "my_registration", None
        if _REGISTER_RE.search(words) and (_REGISTER_HOW_RE.search(words) or re.search(r"\b(quero|queria|gostaria)\b", words)):
            return (None, None) if _NOT_A_SIGNUP_RE.search(words) else ("register", None)
        return None, None
    if _REGISTER_RE.search(words) and re.search(r"\b(fazer|faco|realizar)\b", words):
        return "register", None
    if _MY_REGISTRATION_RE.search(words):
        return "my_registration", None
    if words in _REGISTER_ALONE or _REGISTER_RE.search(words):
        return "register", None
    return None, None


_ABBREVIATIONS = {
    "qro": "quero", "qr": "quero", "kero": "quero", "fzr": "fazer", "fazr": "fazer", "inscricaum": "inscricao",
    "inscrisao": "inscricao", "inscriçao": "inscricao", "increver": "inscrever", "cadastar": "cadastrar",
    "vc": "voce", "vcs": "voces", "tb": "tambem", "tbm": "tambem", "msm": "mesmo", "mt": "muito", "td": "tudo",
    "hj": "hoje", "n": "nao", "s": "sim", "q": "que", "p": "para", "pra": "para", "c": "com", "cm": "com", "cmg": "comigo", "agr": "agora",
}  # fmt: skip


def _expand(words: str) -> str:
    return " ".join(_ABBREVIATIONS.get(word, word) for word in words.split())


_DATA_WORDS_RE = re.compile(r"\b(dados|inscricao|inscrever|nome|cadastro|segue|seguem|cpf|e ?mail|telefone|celular)\b")


def _pasted_registration(text: str, words: str) -> bool:
    """A message that carries registration data (a valid CPF, or an e-mail with a name or a label)."""
    if find_cpf(text):
        return True
    return find_email(text) is not None and bool(_DATA_WORDS_RE.search(words)) and len(words.split()) >= 4


def route(text: str, *, in_flow: bool = False) -> Routed:
    """Say what ``text`` is (see the module docstring). Pure."""
    text = (text or "").strip()
    words = _expand(words_of(text))
    polite = re.sub(r"\b(por favor|pfv|pf|porfavor|pls)\b", "", words).strip()
    question = looks_like_question(text)
    split = words.split()
    language = _language([w for w in fold(text).replace("?", " ").split() if w.isalpha() or "'" in w] or split)
    if not words:
        return Routed(text=text, words=words, small_talk="ack" if read_yes_no(text) == "yes" else None)
    if language != "pt":
        return Routed(text=text, words=words, language=language, question=question)

    # The field a short message names ("sim, mas a cidade mudou", "o 2"), for the summary and corrections.
    named = field_in(text) if len(split) <= 12 and not re.fullmatch(r"\d{7,}", words.replace(" ", "")) else None

    def make(command: str | None = None, **extra) -> Routed:
        extra.setdefault("field", named)
        return Routed(text=text, words=words, command=command, question=question, **extra)

    if _ERASE_DATA_RE.match(polite):
        return make("erase_data")
    if _MY_DATA_RE.match(polite):
        return make("my_data")
    if asks_for_a_person(words):
        return make("human")
    if complains(words, question=question):
        return make("complaint")
    if _BACK_RE.match(polite):
        return make("back" if in_flow else "menu")
    if _MENU_RE.match(polite):
        return make("menu")
    if _HELP_RE.match(polite):
        return make("help")
    if _CANCEL_RE.match(polite) or polite in _CANCEL_LOOSE:
        return make("cancel")
    command, command_field = _registration_command(words, text, question)
    if command is not None:
        return make(command, field=command_field or named)
    if not in_flow and not question and _pasted_registration(text, words):
        # "Segue meus dados: Nome …, e-mail …, CPF …": a registration, not a question for the organizers.
        return make("register")
    if _GREETING_RE.match(polite.replace(" com voce", "")):
        return make(small_talk="greeting")  # "boa noite, tudo bem?" is a greeting, not a question
    if not question:
        if _GREETING_RE.match(polite):
            return make(small_talk="greeting")
        if _HOW_ARE_YOU_RE.match(polite):
            return make(small_talk="how_are_you")
        if _THANKS_RE.match(polite):
            return make(small_talk="thanks")
        if _BYE_RE.match(polite):
            return make(small_talk="bye")
        if _LAUGH_RE.match(polite):
            return make(small_talk="laugh")
    return make()
