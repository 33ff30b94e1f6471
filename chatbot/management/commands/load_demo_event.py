"""Load a realistic, fictional agribusiness congress into an empty database.

``python manage.py load_demo_event`` creates the CBAS 2027 event (active), its
ticket categories, the six participant profiles, the FAQ and a three-day
programme, but only when the database holds no event at all. When any event
exists (the demo loaded earlier, or an organizer's own event) it changes
nothing and says so, exiting 0: ``make run`` calls it on every start, also on
a real database, where it must never deactivate, overwrite or edit anything.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import IntegrityError, transaction

from chatbot.knowledge import knowledge_invalidate
from chatbot.models import Event, FAQEntry, Profile, ProgrammeSession, TicketCategory

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
}

TICKETS = [
    ("Profissional — 1º lote", Decimal("480.00"), "inscrições feitas até 31/03/2027"),
    ("Profissional — 2º lote", Decimal("580.00"), "a partir de 01/04/2027"),
    ("Produtor rural", Decimal("320.00"), "com inscrição estadual de produtor ou DAP/CAF"),
    ("Estudante (meia-entrada)", Decimal("240.00"), "graduação ou pós-graduação, com comprovante de matrícula"),
    ("Passe de um dia", Decimal("220.00"), "acesso a palestras e feira em um dos dias"),
    ("Visitante da feira", Decimal("0.00"), "acesso somente à área de exposição, sem palestras"),
]

PROFILES = [
    ("Produtor rural", "agricultor, agricultora, pecuarista, produtor, produtora, fazendeiro, sitiante, criador, agropecuarista, crio gado, gado de corte, gado de leite, lavoura, planto, cultivo, roça"),
    ("Pesquisador(a)/Professor(a)", "pesquisador, pesquisadora, investigador, investigadora, professor, professora, docente, cientista, universidade, academia"),
    ("Estudante", "estudante, aluno, aluna, graduação, pós-graduação, mestrando, doutorando, universitário, técnico em formação"),
    ("Empresa/Expositor", "empresa, expositor, expositora, patrocinador, indústria, revenda, cooperativa, startup, empresário"),
    ("Consultor(a)/Técnico(a)", "consultor, consultora, técnico, técnica, agrônomo, agrônoma, zootecnista, veterinário, extensionista"),
    ("Outro", "outro, outra, visitante, interessado, curioso, jornalista, imprensa"),
]

FAQ = [
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
        "É rapidinho e pode ser aqui mesmo no WhatsApp: escreva *quero me inscrever* e eu peço seus dados (nome, "
        "e-mail, CPF, telefone, cidade e perfil). Depois você recebe um e-mail de confirmação. Para ver, corrigir ou "
        "cancelar sua inscrição, escreva *minha inscrição* aqui.",
        "como me inscrever, como se inscrever, fazer inscrição, inscrever, inscrição, cadastro, cadastrar, me cadastrar",
    ),
    (
        "Posso cancelar a inscrição e pedir reembolso?",
        "Pode. Para cancelar, escreva *cancelar minha inscrição* aqui. Pela política do evento, cancelamentos até "
        "*7 dias antes (04/05/2027)* têm reembolso integral; depois disso não há reembolso. O reembolso não é feito "
        "por este chat: quem cuida dele é a organização (contato@cbas2027.example.org).",
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
        "Por aqui eu faço sua inscrição, mas *não recebo pagamentos nem envio link de pagamento*. Dúvidas sobre "
        "pagamento (Pix, boleto, cartão, parcelamento, prazos) são respondidas pela organização: "
        "contato@cbas2027.example.org ou WhatsApp (62) 3200-2027.",
        "pagamento, pagar, pago, pix, cartão, cartão de crédito, boleto, parcelar, parcelamento, forma de pagamento",
    ),
    (
        "Estudante paga meia-entrada?",
        "Sim. Estudantes de graduação e pós-graduação pagam *R$ 240,00* (meia-entrada). No credenciamento, apresente "
        "um comprovante de matrícula do semestre atual ou a carteira estudantil válida.",
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
        "O credenciamento abre às *7h30* no hall de entrada. Leve um *documento oficial com foto*: seu nome é "
        "conferido na lista de inscritos e você retira o crachá, que vale para os três dias. Não há QR code.",
        "credenciamento, crachá, credencial, retirar crachá, check-in, documento, qr code, kit",
    ),
    (
        "Tem desconto para grupos?",
        "Sim. Grupos de *10 ou mais pessoas* da mesma instituição, cooperativa ou caravana têm 10% de desconto. "
        "Peça o cupom pelo e-mail da organização informando o nome da instituição e a lista de participantes.",
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
        "Não. O congresso (palestras, painéis e minicursos) é pago: de *R$ 220,00* (passe de um dia) a "
        "*R$ 580,00*. Só a *visita à feira de negócios* é gratuita, sem acesso "
        "às palestras; crianças de até 12 anos acompanhadas de um responsável inscrito também não pagam. "
        "Pergunte *quanto custa* para ver todos os valores.",
        "gratuito, gratuita, grátis, de graça, free, evento gratuito, entrada gratuita, sem custo, "
        "é pago, cobrado, cobra",
    ),
    (
        "Ainda tem vagas?",
        "Sim! As inscrições para o CBAS 2027 estão *abertas* e ainda há vagas. Você pode se inscrever aqui mesmo: "
        "escreva *quero me inscrever*. Se as vagas acabarem, a organização avisa no site "
        "https://cbas2027.example.org.",
        "vaga, vagas, ainda tem vaga, tem vaga, vagas abertas, lotado, lotou, esgotado, esgotou, lotação, "
        "capacidade, acabaram as vagas",
    ),
    (
        "Tem meia-entrada ou desconto para idosos?",
        "A tabela do CBAS 2027 não tem uma categoria própria para idosos (60+): o único valor reduzido é o de "
        "*estudante* (R$ 240,00). Para saber de outro desconto, fale com a organização: contato@cbas2027.example.org "
        "ou WhatsApp (62) 3200-2027.",
        "idoso, idosos, idosa, idosas, 60+, terceira idade, melhor idade, aposentado, aposentada, "
        "meia para idoso, desconto para idoso, estatuto do idoso",
    ),
    (
        "Até quando posso me inscrever?",
        "As inscrições estão abertas e podem ser feitas aqui no chat: escreva *quero me inscrever*. O valor "
        "depende da data: o *1º lote* (R$ 480,00) vale para inscrições feitas até *31/03/2027* e, a partir de "
        "*01/04/2027*, vale o *2º lote* (R$ 580,00). Não há data de encerramento divulgada; se as vagas "
        "acabarem, a organização avisa no site.",
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
                f"{len(FAQ)} FAQ entries, {len(SESSIONS)} programme sessions."
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
    TicketCategory.objects.bulk_create(
        TicketCategory(event=event, name=name, price=price, description=description, order=order)
        for order, (name, price, description) in enumerate(TICKETS)
    )
    Profile.objects.bulk_create(
        Profile(event=event, name=name, keywords=keywords, order=order, active=True)
        for order, (name, keywords) in enumerate(PROFILES)
    )
    FAQEntry.objects.bulk_create(
        FAQEntry(event=event, question=question, answer=answer, keywords=keywords, order=order, active=True)
        for order, (question, answer, keywords) in enumerate(FAQ)
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
