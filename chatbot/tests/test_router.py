"""The router: what a message is, decided once for every entry point."""

from __future__ import annotations

import pytest

from chatbot.router import field_in, route

# --- intents -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("quero me inscrever", "register"),
        ("Inscrição", "register"),
        ("cadastro", "register"),
        ("quero participar", "register"),
        ("como faço para me inscrever?", "register"),
        ("quero fazer minha inscrição", "register"),
        ("minha inscrição", "my_registration"),
        ("meus dados da inscrição", "my_registration"),
        ("cancelar minha inscrição", "cancel_registration"),
        ("reenviar e-mail", "resend"),
        ("não recebi o email de confirmação", "resend"),
        ("quero corrigir o e-mail", "correct"),
        ("corrigir", "correct"),
        ("qual o valor da inscrição?", None),
        ("até quando posso me inscrever?", None),
        ("onde vai ser o evento?", None),
        ("cancelar", "cancel"),
        ("oi", None),
    ],
    ids=lambda value: str(value),
)
def test_router_reads_registration_requests_and_leaves_questions_to_the_qa(text, intent):
    assert route(text).command == intent


@pytest.mark.parametrize(
    ("text", "field"),
    [("2", "email"), ("quero corrigir o e-mail", "email"), ("não, o telefone está errado", "phone"),
     ("nome", "full_name"), ("5", "city"), ("a cidade", "city"), ("perfil", "profile"), ("7", None), ("sim", None)],
    ids=lambda value: str(value),
)  # fmt: skip
def test_field_in_understands_summary_numbers_and_field_names(text, field):
    assert field_in(text) == field


