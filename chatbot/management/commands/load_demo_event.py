"""Load a realistic, fictional agribusiness congress into an empty database.

``python manage.py load_demo_event`` creates the CBAS 2027 event (active), its
six participant profiles, its ticket categories (each linked to the profiles
that may choose it; most paid ones with a 1st and a 2nd lot dated from the
event's start; some with a seat limit; one free; one asking for a student's
proof), the FAQ and a three-day programme, but only when the database holds no
event at all. When any event exists (the demo loaded earlier, or an
organizer's own event) it changes nothing and says so, exiting 0: ``make run``
calls it on every start, also on a real database, where it must never
deactivate, overwrite or edit anything.

The FAQ describes what the product does (registration and Pix in the chat,
the payment deadline, receipts and proofs sent in the chat, the waitlist, the
registration code and its QR code), with the deadlines of this installation's
settings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import IntegrityError, transaction
from django.utils import timezone

from chatbot.knowledge import format_price, knowledge_invalidate
from chatbot.models import Event, FAQEntry, Profile, ProgrammeSession, TicketCategory, TicketLot

EVENT = {
    "name": "Congresso Brasileiro do Agro Sustentável",
    "edition": "CBAS 2027",
    "theme": "Produzir mais, preservando: inovação e sustentabilidade do campo à mesa",
    "starts_on": dt.date(2027, 5, 11),
    "ends_on": dt.date(2027, 5, 13),
    "hours": "das 8h às 18h (credenciamento a partir das 7h30)",
    "venue": "Centro de Eventos Agro Cerrado",
    "address": "Av. das Nações Agrícolas, 1500 — Jardim Goiás, CEP 74805-100",
    "city": "Goiânia",
    "uf": "GO",
    "website": "https://cbas2027.example.org",
    "contact_email": "contato@cbas2027.example.org",
    "contact_whatsapp": "(62) 3200-2027",
    # The number the assistant answers (the public page links to it); demo only.
    "assistant_whatsapp": "(62) 99602-2027",
    "description": (
        "O CBAS reúne produtores rurais, pesquisadores, estudantes, empresas e técnicos durante três dias "
        "de palestras, painéis, minicursos, dias de campo e uma feira de negócios com mais de 120 expositores. "
        "Os temas vão de agricultura de baixo carbono e bioinsumos a crédito rural, pecuária, agricultura "
        "digital e sucessão familiar."
    ),
    "registration_open": True,
    "privacy_notice_url": "https://cbas2027.example.org/privacidade",
    # Every category together, the free fair included: generous, so only a
    # category's own limit is met in a demo.
    "capacity": 2500,
}

PRODUCER = "Produtor rural"
RESEARCHER = "Pesquisador(a)/Professor(a)"
STUDENT = "Estudante"
COMPANY = "Empresa/Expositor"
CONSULTANT = "Consultor(a)/Técnico(a)"
OTHER = "Outro"

PROFILES = [
    (PRODUCER, "agricultor, agricultora, pecuarista, produtor, produtora, fazendeiro, sitiante, criador, agropecuarista, crio gado, gado de corte, gado de leite, lavoura, planto, cultivo, roça"),
    (RESEARCHER, "pesquisador, pesquisadora, investigador, investigadora, professor, professora, docente, cientista, universidade, academia"),
    (STUDENT, "estudante, aluno, aluna, graduação, pós-graduação, mestrando, doutorando, universitário, técnico em formação"),
    (COMPANY, "empresa, expositor, expositora, patrocinador, indústria, revenda, cooperativa, startup, empresário"),
    (CONSULTANT, "consultor, consultora, técnico, técnica, agrônomo, agrônoma, zootecnista, veterinário, extensionista"),
    (OTHER, "outro, outra, visitante, interessado, curioso, jornalista, imprensa"),
]

# The 2nd lot starts this many days before the event opens (01/04/2027 for
# CBAS 2027, at 0h local time): the 1st lot is sold until the day before.
SECOND_LOT_DAYS_BEFORE = 40
# Paid registrations cancelled until this many days before the event are refunded in full.
REFUND_DAYS_BEFORE = 7
FIRST_LOT, SECOND_LOT = "1º lote", "2º lote"


def second_lot_from(starts_on: dt.date) -> dt.date:
    """The day the 2nd lot starts, at 0h local time; the 1st lot's last day is the day before."""
    return starts_on - dt.timedelta(days=SECOND_LOT_DAYS_BEFORE)


@dataclass(frozen=True)
class Ticket:
    """A demo category: ``first_lot`` is its 1st-lot price, ``price`` the 2nd lot's (or its only price)."""

    name: str
    description: str
    profiles: tuple[str, ...]  # the profiles that may choose it
    price: Decimal
    first_lot: Decimal | None = None  # None: one price, no lots
    proof: str = TicketCategory.Proof.NONE
    capacity: int | None = None

    def prices(self) -> list[Decimal]:
        return [p for p in (self.first_lot, self.price) if p is not None]


# The 1st and 2nd lots of the old "Profissional — 1º/2º lote" categories are
# now lots of one category. Produtor rural, Estudante and Empresa/Expositor
# fit one category (derived from the profile); the others choose among two or
# three (the `asking_ticket` step).
TICKETS = [
    Ticket(
        "Profissional",
        "acesso aos três dias: palestras, painéis, minicursos e feira",
        (RESEARCHER, COMPANY, CONSULTANT, OTHER),
        price=Decimal("580.00"),
        first_lot=Decimal("480.00"),
    ),
    Ticket(
        "Produtor rural",
        "com inscrição estadual de produtor ou DAP/CAF",
        (PRODUCER,),
        price=Decimal("380.00"),
        first_lot=Decimal("320.00"),
    ),
    Ticket(
        "Estudante (meia-entrada)",
        "graduação ou pós-graduação, com comprovante de matrícula",
        (STUDENT,),
        price=Decimal("290.00"),
        first_lot=Decimal("240.00"),
        proof=TicketCategory.Proof.STUDENT,
        capacity=150,
    ),
    Ticket(
        "Passe de um dia",
        "acesso a palestras e feira em um dos dias",
        (RESEARCHER, CONSULTANT, OTHER),
        price=Decimal("220.00"),
        capacity=300,
    ),
    Ticket(
        "Visitante da feira",
        "acesso somente à área de exposição, sem palestras",
        (OTHER,),
        price=Decimal("0.00"),
        capacity=1500,
    ),
]


def _ticket(name: str) -> Ticket:
    return next(ticket for ticket in TICKETS if ticket.name == name)


def _day(value: dt.date) -> str:
    return f"{value:%d/%m/%Y}"


def _hours(value: float) -> str:
    """``72h``, ``1,5h``."""
    return f"{value:g}".replace(".", ",") + "h"


def faq_entries(starts_on: dt.date) -> list[tuple[str, str, str]]:
    """(question, answer, keywords) of the demo FAQ, with the lot dates of an event starting on ``starts_on``
    and this installation's deadlines."""
    expiry = _hours(settings.PAYMENT_EXPIRY_HOURS)
    reminder = _hours(settings.PAYMENT_REMINDER_HOURS)
    claim = _hours(settings.WAITLIST_CLAIM_HOURS)
    code = f"{settings.REGISTRATION_CODE_PREFIX}-7F3K2"
    second_from = second_lot_from(starts_on)
    first_until = _day(second_from - dt.timedelta(days=1))
    refund_until = _day(starts_on - dt.timedelta(days=REFUND_DAYS_BEFORE))
    professional, student, day_pass = _ticket("Profissional"), _ticket("Estudante (meia-entrada)"), _ticket("Passe de um dia")
    paid = [price for ticket in TICKETS for price in ticket.prices() if price]
    limited = [ticket.name.split(" (")[0].lower() for ticket in TICKETS if ticket.capacity]
    limited_names = ", ".join(limited[:-1]) + f" e {limited[-1]}" if len(limited) > 1 else "".join(limited)
    return [
        (
            "Tem estacionamento no local?",
            "Sim! O Centro de Eventos Agro Cerrado tem estacionamento próprio com 1.200 vagas, por *R$ 25,00 a diária* "
            "(pagamento na saída, em Pix ou cartão). Há vagas reservadas para pessoas com deficiência e idosos perto da "
            "entrada principal.",
            # Not a bare "vaga": at an event, "tem vaga?" asks about registration.
            "estacionamento, estacionar, vaga de carro, vagas de carro, vaga para carro, vaga de estacionamento, carro, "
            "garagem, parar o carro",
        ),
        (
            "Vou receber certificado de participação?",
            "Sim. A organização envia o *certificado digital de participação (20 horas)* por e-mail até 15 dias depois "
            "do evento para quem fez o credenciamento e teve pelo menos 75% de presença nas atividades. Minicursos têm "
            "certificado próprio.",
            "certificado, certificados, certificação, horas complementares, declaração de participação, carga horária",
        ),
        (
            "Tem alimentação no evento? O almoço está incluído?",
            "O *coffee break* da manhã e da tarde está incluído na inscrição. O almoço *não* está incluído: a praça de "
            "alimentação do Centro de Eventos tem restaurantes e lanchonetes, com refeições a partir de R$ 35,00.",
            "alimentação, comida, almoço, almocar, lanche, coffee break, refeição, restaurante, comer, café, jantar",
        ),
        (
            "O local tem acessibilidade?",
            "Sim. Todo o Centro de Eventos tem rampas e elevadores, banheiros adaptados e lugares reservados nos "
            "auditórios. As palestras do Auditório Principal têm intérprete de *Libras*. Se precisar de outro apoio, "
            "avise a organização com antecedência.",
            "acessibilidade, acessível, cadeirante, cadeira de rodas, deficiência, pcd, libras, rampa, elevador, mobilidade reduzida",
        ),
        (
            "Como faço minha inscrição?",
            "É aqui mesmo no WhatsApp: escreva *quero me inscrever* e eu peço seus dados (nome, e-mail, "
            "CPF, telefone, cidade e perfil). Inscrição gratuita é confirmada na hora; nas demais, o *Pix copia e cola* chega "
            f"aqui (prazo de {expiry}). Para ver, corrigir ou cancelar sua inscrição, escreva *minha inscrição*.",
            "como me inscrever, como se inscrever, quero me inscrever, fazer inscrição, inscrever, inscrição, cadastro, "
            "cadastrar, me cadastrar",
        ),
        (
            "Posso cancelar a inscrição e pedir reembolso?",
            "Pode. Escreva *cancelar minha inscrição* aqui: a vaga é liberada na hora (e oferecida a quem está na "
            "lista de espera). Se você ainda não pagou, não há nada a devolver. Inscrições pagas canceladas até "
            f"*{REFUND_DAYS_BEFORE} dias antes ({refund_until})* têm reembolso integral; depois disso não há reembolso. O "
            "reembolso não é feito por este chat: quem cuida dele é a organização (contato@cbas2027.example.org).",
            "cancelar, cancelamento, reembolso, devolução, estorno, dinheiro de volta, desistir, desistência",
        ),
        (
            "Tem hotéis perto do evento? Há desconto de hospedagem?",
            "Sim. Três hotéis parceiros a menos de 2 km oferecem *15% de desconto* com o código *CBAS2027*: Hotel "
            "Ipê Amarelo, Pousada Buriti e Hotel Vereda Executivo. Reserve cedo: maio é época de muitos eventos em Goiânia.",
            "hotel, hotéis, hospedagem, hospedar, pousada, dormir, acomodação, diária de hotel, onde ficar",
        ),
        (
            "Como chegar ao evento saindo do aeroporto?",
            "O Centro de Eventos fica a cerca de *12 km do Aeroporto de Goiânia* (20 a 30 minutos de carro). Há táxi e "
            "aplicativos no aeroporto e, nos dias do evento, um *transfer gratuito* sai dos hotéis parceiros às 7h e às 7h40.",
            "aeroporto, transporte, ônibus, uber, táxi, transfer, voo, avião, como chegar, rodoviária, translado",
        ),
        (
            "Posso levar crianças?",
            "Crianças de até 12 anos entram gratuitamente acompanhadas de um responsável inscrito. O evento tem um "
            "*espaço kids* com monitores no pavilhão da feira, das 9h às 17h.",
            "criança, crianças, filho, filhos, filha, menor de idade, bebê, infantil, espaço kids, família",
        ),
        (
            "Qual o traje recomendado?",
            "O traje é *esporte fino ou casual*. Para o dia de campo (quarta-feira, 12/05) use calçado fechado, chapéu ou "
            "boné e protetor solar. Maio em Goiânia costuma ser seco e quente durante o dia.",
            "traje, roupa, vestimenta, dress code, vestir, o que vestir, bota, chapéu, sapato",
        ),
        (
            "Tem Wi-Fi no evento?",
            "Sim. A rede Wi-Fi gratuita *CBAS2027* cobre auditórios, salas e feira. A senha está impressa no verso do "
            "seu crachá.",
            "wifi, wi-fi, internet, rede, senha do wifi, conexão",
        ),
        (
            "Como ser expositor ou patrocinador?",
            "A feira tem estandes de 9 m² a 150 m². Para expor ou patrocinar, escreva para *comercial@cbas2027.example.org* "
            "com o nome da empresa e o tamanho desejado; o kit de expositor inclui duas credenciais de acesso ao congresso.",
            "expositor, expor, estande, stand, patrocínio, patrocinar, patrocinador, feira de negócios, exposição, empresa",
        ),
        (
            "Quais são as formas de pagamento?",
            "O pagamento é por *Pix*, aqui mesmo no chat: ao concluir a inscrição eu envio o *Pix copia e cola* (e o "
            "QR code) com o valor. Não há boleto, cartão nem parcelamento, e não mandamos link de pagamento por "
            f"e-mail. O prazo é de *{expiry}* (eu lembro você {reminder} antes); sem pagamento, a inscrição expira e "
            "a vaga é liberada. Pagou? Escreva *já paguei*: eu confiro o pagamento ou peço a foto ou o PDF do "
            "comprovante, que a organização confere. Confirmado, você recebe aqui e por e-mail seu código de "
            "inscrição e o QR code.",
            "pagamento, pagar, pago, pix, cartão, cartão de crédito, boleto, parcelar, parcelamento, forma de pagamento",
        ),
        (
            "Estudante paga meia-entrada?",
            "Sim. Estudantes de graduação e pós-graduação pagam meia: "
            f"*{format_price(student.first_lot)}* no 1º lote (até {first_until}) e {format_price(student.price)} "
            "depois. Na inscrição eu peço aqui no chat a *foto ou o PDF* do comprovante de matrícula do semestre "
            "atual (ou da carteira estudantil válida), que a organização confere. As vagas de meia-entrada são "
            "limitadas; esgotadas, há lista de espera. Leve o comprovante também no credenciamento.",
            "meia, meia-entrada, meia entrada, desconto estudante, estudante, carteirinha, carteira estudantil, comprovante de matrícula",
        ),
        (
            "Onde vejo a programação completa?",
            "A programação completa está no site *https://cbas2027.example.org/programacao*. Aqui no chat você também "
            "pode perguntar por um dia, um tema ou o nome de quem vai falar.",
            "programação, programacao completa, cronograma, agenda, grade, horários das palestras, palestras",
        ),
        (
            "Como funciona o credenciamento?",
            "O credenciamento abre às *7h30* no hall de entrada. Leve um *documento oficial com foto* e tenha à mão o "
            f"*QR code* do e-mail de confirmação ou o seu código de inscrição (ex.: {code}): seu nome é conferido na "
            "lista de inscritos e você retira o crachá, que vale para os três dias.",
            "credenciamento, crachá, credencial, retirar crachá, check-in, documento, qr code, kit",
        ),
        (
            "Tem desconto para grupos?",
            "Sim. Grupos de *10 ou mais pessoas* da mesma instituição, cooperativa ou caravana têm 10% de desconto. "
            "O desconto não é aplicado por este chat: peça à organização pelo e-mail contato@cbas2027.example.org, "
            "com o nome da instituição e a lista de participantes, e ela combina a inscrição do grupo.",
            "grupo, grupos, caravana, excursão, desconto para grupo, cooperativa, turma, cupom",
        ),
        (
            "Posso apresentar trabalho científico?",
            "Sim. A submissão de resumos para a *sessão de pôsteres* (quarta-feira, 12/05, 16h) vai até 15/03/2027 pelo "
            "site do evento. Pelo menos um autor precisa estar inscrito.",
            "trabalho, trabalho científico, artigo, resumo, submissão, pôster, banner, apresentar trabalho, "
            "chamada de trabalhos, prazo, prazo do resumo, enviar resumo, mandar resumo",
        ),
        (
            "Posso transferir minha inscrição para outra pessoa?",
            "A transferência não é feita por este chat: fale com a organização (contato@cbas2027.example.org ou "
            "WhatsApp (62) 3200-2027) com o seu nome e o da pessoa que vai no seu lugar. Aqui você pode ver, corrigir "
            "ou cancelar a sua própria inscrição: escreva *minha inscrição*.",
            "transferir, transferência, transferir inscrição, passar a inscrição, trocar participante, outra pessoa, "
            "no meu lugar, substituir",
        ),
        (
            "O que vocês fazem com os meus dados? Vocês vendem meus dados?",
            "Seus dados são usados *só para o evento*: inscrição, credenciamento, certificado e avisos do CBAS 2027. "
            "*Não vendemos* nem repassamos seus dados. Detalhes no aviso de privacidade: "
            "https://cbas2027.example.org/privacidade",
            "dados, meus dados, dados pessoais, vender, vendem, venda, vendem dados, compartilhar, compartilham, "
            "repassar, privacidade, lgpd, uso dos dados, segurança dos dados, spam",
        ),
        (
            "Quem tem acesso aos meus dados?",
            "Só a *equipe organizadora* do CBAS 2027, para cuidar da sua inscrição. Seus dados não são vendidos. "
            "Aviso de privacidade: https://cbas2027.example.org/privacidade",
            "acesso aos dados, quem tem acesso, quem vê, quem pode ver, meus dados, dados pessoais, privacidade, lgpd",
        ),
        (
            "Como vejo, corrijo ou apago os meus dados?",
            "Aqui mesmo no chat: escreva *meus dados* para ver o que temos sobre você, *minha inscrição* para corrigir "
            "um dado e *apagar meus dados* para apagá-los (isso cancela a inscrição). Dúvidas sobre privacidade: "
            "contato@cbas2027.example.org.",
            "ver meus dados, corrigir dados, apagar dados, apagar meus dados, excluir dados, deletar dados, "
            "direitos lgpd, lgpd, privacidade, esquecer meus dados",
        ),
        (
            "O evento é gratuito?",
            f"Não. O congresso (palestras, painéis e minicursos) é pago: de *{format_price(min(paid))}* "
            f"({day_pass.name.lower()}) a *{format_price(max(paid))}*. Só a *visita à feira de negócios* é gratuita, "
            "sem acesso às palestras (essa inscrição é confirmada na hora); crianças de até 12 anos acompanhadas de "
            "um responsável inscrito também não pagam. Pergunte *quanto custa* para ver os valores de hoje.",
            "gratuito, gratuita, grátis, de graça, free, evento gratuito, entrada gratuita, sem custo, "
            "é pago, cobrado, cobra",
        ),
        (
            "Ainda tem vagas?",
            "Sim! As inscrições para o CBAS 2027 estão *abertas* e ainda há vagas: escreva *quero me inscrever*. "
            f"Algumas categorias têm vagas limitadas ({limited_names}). Se a sua esgotar, você pode entrar na "
            f"*lista de espera*: quando uma vaga abrir, eu aviso aqui e você tem {claim} para responder *sim* e "
            "garantir a vaga.",
            "vaga, vagas, ainda tem vaga, tem vaga, vagas abertas, lotado, lotou, esgotado, esgotou, lotação, "
            "capacidade, acabaram as vagas, lista de espera",
        ),
        (
            "Tem meia-entrada ou desconto para idosos?",
            "A tabela do CBAS 2027 não tem uma categoria própria para idosos (60+): o único valor reduzido é o de "
            f"*estudante* ({format_price(student.first_lot)} no 1º lote). Para saber de outro desconto, fale com a "
            "organização: contato@cbas2027.example.org ou WhatsApp (62) 3200-2027.",
            "idoso, idosos, idosa, idosas, 60+, terceira idade, melhor idade, aposentado, aposentada, "
            "meia para idoso, desconto para idoso, estatuto do idoso",
        ),
        (
            "Até quando posso me inscrever?",
            "As inscrições estão abertas e podem ser feitas aqui no chat: escreva *quero me inscrever*. O valor "
            f"depende da data: o *1º lote* ({professional.name} {format_price(professional.first_lot)}) vale para "
            f"inscrições feitas até *{first_until}* e, a partir de *{_day(second_from)}*, vale o *2º lote* "
            f"({format_price(professional.price)}). Vale o lote vigente na inscrição, com o Pix pago no prazo. "
            "Não há data de encerramento divulgada; se as vagas acabarem, há lista de espera.",
            "até quando, prazo, prazo de inscrição, prazo para se inscrever, prazo para inscrição, data limite, "
            "último dia para se inscrever, encerramento das inscrições, inscrições terminam, virada de lote, "
            "prazo do lote",
        ),
        (
            "O evento é presencial ou online?",
            "O CBAS 2027 é *presencial*, no Centro de Eventos Agro Cerrado, em Goiânia/GO. Não há transmissão ao vivo "
            "nem gravação das palestras anunciadas; se isso mudar, a organização avisa no site.",
            "presencial, online, on-line, remoto, a distância, transmissão, transmitido, ao vivo, live, gravado, "
            "gravação, gravacoes, youtube, assistir de casa, virtual",
        ),
        (
            "Vocês emitem nota fiscal ou recibo?",
            "Quem precisa de nota fiscal ou recibo (por exemplo, para a empresa pagar a inscrição) deve pedir à "
            "organização pelo e-mail contato@cbas2027.example.org, com o nome do participante e os dados da empresa.",
            "nota fiscal, nf, nfe, nf-e, recibo, comprovante de pagamento, faturar, fatura, cnpj, empresa pagar, "
            "reembolso da empresa",
        ),
    ]


ROOM_MAIN = "Auditório Principal"
ROOM_CERRADO = "Sala Cerrado"
ROOM_PANTANAL = "Sala Pantanal"
ROOM_ARENA = "Arena de Inovação"
ROOM_FIELD = "Campo Demonstrativo"
ROOM_HALL = "Hall de Entrada"

D1, D2, D3 = dt.date(2027, 5, 11), dt.date(2027, 5, 12), dt.date(2027, 5, 13)

# (day, start, end, room, title, speakers)
SESSIONS = [
    (D1, "07:30", "09:00", ROOM_HALL, "Credenciamento e café de boas-vindas", ""),
    (D1, "09:00", "10:00", ROOM_MAIN, "Cerimônia de abertura", "Comissão organizadora do CBAS"),
    (D1, "10:00", "11:00", ROOM_MAIN, "Palestra magna: o agro brasileiro rumo a 2030 com baixa emissão de carbono", "Dra. Helena Prado Vasconcelos"),
    (D1, "11:00", "12:30", ROOM_MAIN, "Painel: crédito rural verde e financiamento da transição", "Ricardo Almeida Tavares, Luciana Ferraz, Marcos Toledo"),
    (D1, "11:00", "12:30", ROOM_CERRADO, "Manejo integrado de pragas na soja", "Dr. Paulo Henrique Siqueira"),
    (D1, "11:00", "12:30", ROOM_PANTANAL, "Bem-estar animal na bovinocultura de corte", "Dra. Fernanda Queiroz Lima"),
    (D1, "14:00", "15:30", ROOM_MAIN, "Integração lavoura-pecuária-floresta (ILPF) na prática", "Dr. João Batista Moreira"),
    (D1, "14:00", "15:30", ROOM_CERRADO, "Bioinsumos: da fazenda à regulamentação", "Dra. Camila Rezende, Eng. Agr. Tiago Nunes"),
    (D1, "14:00", "15:30", ROOM_PANTANAL, "Recuperação de pastagens degradadas", "Dr. Sérgio Antunes Borges"),
    (D1, "14:00", "15:00", ROOM_ARENA, "Pitch de startups do agro — rodada 1", "Moderação: Bianca Sato"),
    (D1, "16:00", "17:30", ROOM_MAIN, "Mercado de carbono para o produtor rural", "Dr. André Luiz Fontana, Patrícia Menezes"),
    (D1, "16:00", "17:30", ROOM_CERRADO, "Irrigação eficiente e outorga de água", "Eng. Agr. Roberta Cunha"),
    (D1, "16:00", "17:30", ROOM_PANTANAL, "Sucessão familiar no campo", "Dra. Marta Dias Coelho, Antônio Gaspar"),
    (D1, "17:30", "18:30", "Pavilhão da Feira", "Coquetel de abertura da feira de negócios", ""),
    (D2, "08:30", "09:30", ROOM_MAIN, "Agricultura digital: sensores, drones e dados na fazenda", "Dr. Eduardo Kenji Nakamura"),
    (D2, "08:30", "10:00", ROOM_CERRADO, "Minicurso: análise de solo e recomendação de adubação (parte 1)", "Dra. Juliana Paiva Rocha"),
    (D2, "09:00", "12:00", ROOM_FIELD, "Dia de campo: plantio direto e plantas de cobertura", "Equipe técnica do Campo Demonstrativo"),
    (D2, "10:00", "11:30", ROOM_MAIN, "Painel: rastreabilidade e as exigências do mercado europeu", "Carolina Bastos, Dr. Rafael Meireles, Henrique Vaz"),
    (D2, "10:00", "11:30", ROOM_PANTANAL, "Sanidade animal e calendário de vacinação", "Dr. Gustavo Pereira Leal"),
    (D2, "10:30", "12:00", ROOM_CERRADO, "Minicurso: análise de solo e recomendação de adubação (parte 2)", "Dra. Juliana Paiva Rocha"),
    (D2, "11:30", "12:30", ROOM_ARENA, "Inteligência artificial no campo: casos reais", "Larissa Monteiro, Diego Furtado"),
    (D2, "14:00", "15:30", ROOM_MAIN, "Mulheres no agro: liderança e gestão da propriedade", "Ana Cláudia Ribeiro, Rosângela Matos, Dra. Beatriz Leme"),
    (D2, "14:00", "15:30", ROOM_CERRADO, "Café e cacau sustentáveis: qualidade e mercado", "Dr. Vinícius Carvalho"),
    (D2, "14:00", "15:30", ROOM_PANTANAL, "Piscicultura e aquicultura no Centro-Oeste", "Dra. Renata Okamoto"),
    (D2, "14:00", "15:00", ROOM_ARENA, "Pitch de startups do agro — rodada 2", "Moderação: Bianca Sato"),
    (D2, "16:00", "17:30", ROOM_MAIN, "Logística e escoamento da safra", "Fábio Guimarães, Dr. Leonardo Assis"),
    (D2, "16:00", "17:30", ROOM_CERRADO, "Sessão de pôsteres científicos", "Comissão científica"),
    (D2, "16:00", "17:30", ROOM_PANTANAL, "Agricultura familiar e cooperativismo", "Dra. Sônia Albuquerque, José Ivo Pimentel"),
    (D3, "08:30", "10:00", ROOM_MAIN, "Clima e safra: cenários para 2027/2028", "Dr. Maurício Tenório"),
    (D3, "08:30", "10:00", ROOM_CERRADO, "Controle biológico de pragas e doenças", "Dra. Aline Barreto"),
    (D3, "08:30", "10:00", ROOM_PANTANAL, "Genética e melhoramento de bovinos", "Dr. Otávio Brandão"),
    (D3, "09:00", "11:00", ROOM_FIELD, "Demonstração de máquinas autônomas e drones de pulverização", "Expositores parceiros"),
    (D3, "10:30", "12:00", ROOM_MAIN, "Painel: políticas públicas e o Plano Safra", "Cláudio Rangel, Dra. Mônica Freitas, Ivan Lacerda"),
    (D3, "10:30", "12:00", ROOM_CERRADO, "Gestão financeira da propriedade rural", "Eduarda Campos"),
    (D3, "10:30", "12:00", ROOM_PANTANAL, "Energia solar e biogás na fazenda", "Eng. Felipe Arruda"),
    (D3, "10:30", "11:30", ROOM_ARENA, "Final do desafio de startups e premiação", "Júri do desafio CBAS"),
    (D3, "14:00", "15:30", ROOM_MAIN, "Agro e comunicação: como combater a desinformação", "Tatiana Lopes, Gilberto Sá"),
    (D3, "14:00", "15:30", ROOM_CERRADO, "Certificações socioambientais para exportação", "Dra. Priscila Amaral"),
    (D3, "14:00", "15:30", ROOM_PANTANAL, "Saúde e segurança do trabalhador rural", "Dr. Nelson Cardoso"),
    (D3, "14:00", "15:00", ROOM_ARENA, "Oficina: como acessar o crédito do Pronaf", "Equipe de crédito rural"),
    (D3, "16:00", "17:00", ROOM_MAIN, "Entrega do Prêmio CBAS de Sustentabilidade", "Comissão julgadora"),
    (D3, "17:00", "18:00", ROOM_MAIN, "Cerimônia de encerramento", "Comissão organizadora do CBAS"),
]


def _time(value: str) -> dt.time:
    return dt.time.fromisoformat(value)


class Command(BaseCommand):
    help = (
        "Load the demo event CBAS 2027 into a database that has no event yet (idempotent). "
        "When any event exists, nothing is changed."
    )

    def handle(self, *args, **options) -> None:
        existing = Event.objects.order_by("-is_active", "pk").first()
        if existing is not None:
            self._report_existing(existing)
            return
        try:
            with transaction.atomic():
                event = _create_demo_event()
        except IntegrityError:
            # Another process loaded an event at the same moment (the partial
            # unique index allows one active event): theirs stands.
            existing = Event.objects.order_by("-is_active", "pk").first()
            if existing is None:
                raise
            self._report_existing(existing)
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {event}: {len(TICKETS)} tickets, {len(PROFILES)} profiles, "
                f"{event.faqs.count()} FAQ entries, {len(SESSIONS)} programme sessions."
            )
        )

    def _report_existing(self, event: Event) -> None:
        if (event.name, event.edition) == (EVENT["name"], EVENT["edition"]):
            message = f"The demo event {event} is already loaded; nothing was changed."
        else:
            message = (
                f"An event already exists ({event}); nothing was changed. "
                "The demo is loaded only into a database without events."
            )
        self.stdout.write(message)


def _create_demo_event() -> Event:
    """Create the demo event and its knowledge. Call inside ``atomic()`` on a database with no event."""
    event = Event.objects.create(**EVENT, is_active=True)
    Profile.objects.bulk_create(
        Profile(event=event, name=name, keywords=keywords, order=order, active=True)
        for order, (name, keywords) in enumerate(PROFILES)
    )
    _create_tickets(event)
    FAQEntry.objects.bulk_create(
        FAQEntry(event=event, question=question, answer=answer, keywords=keywords, order=order, active=True)
        for order, (question, answer, keywords) in enumerate(faq_entries(event.starts_on))
    )
    ProgrammeSession.objects.bulk_create(
        ProgrammeSession(
            event=event, day=day, start_time=_time(start), end_time=_time(end), room=room, title=title, speakers=speakers
        )
        for day, start, end, room, title, speakers in SESSIONS
    )
    # bulk_create sends no post_save: tell every process to rebuild its
    # knowledge index, now and after the commit.
    knowledge_invalidate()
    transaction.on_commit(knowledge_invalidate)
    return event


def _create_tickets(event: Event) -> None:
    """The categories, the profiles that may choose each, and their two lots (switching at 0h local time)."""
    TicketCategory.objects.bulk_create(
        TicketCategory(
            event=event,
            name=ticket.name,
            price=ticket.price,
            description=ticket.description,
            proof=ticket.proof,
            capacity=ticket.capacity,
            order=order,
        )
        for order, ticket in enumerate(TICKETS)
    )
    # Read back rather than trust bulk_create to set primary keys (it does
    # not on every database).
    categories = {category.name: category for category in TicketCategory.objects.filter(event=event)}
    profiles = {profile.name: profile for profile in Profile.objects.filter(event=event)}
    TicketCategory.profiles.through.objects.bulk_create(
        TicketCategory.profiles.through(ticketcategory=categories[ticket.name], profile=profiles[name])
        for ticket in TICKETS
        for name in ticket.profiles
    )
    switch = timezone.make_aware(dt.datetime.combine(second_lot_from(event.starts_on), dt.time.min))
    TicketLot.objects.bulk_create(
        lot
        for ticket in TICKETS
        if ticket.first_lot is not None
        for lot in (
            TicketLot(category=categories[ticket.name], name=FIRST_LOT, price=ticket.first_lot, ends_at=switch, order=0),
            TicketLot(category=categories[ticket.name], name=SECOND_LOT, price=ticket.price, starts_at=switch, order=1),
        )
    )
