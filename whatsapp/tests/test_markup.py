"""WhatsApp formatting rendered for organizers: escaped, styled, CPFs masked."""

from __future__ import annotations

import pytest

from whatsapp.markup import mask_cpfs, whatsapp_html


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("*Nome:* Maria", "<strong>Nome:</strong> Maria"),
        ("_itálico_ e ~riscado~", "<em>itálico</em> e <s>riscado</s>"),
        ("linha 1\nlinha 2", "linha 1<br>linha 2"),
        ("```*não* formata```", "<code>*não* formata</code>"),
        # Not formatting: markers glued to words, or with spaces inside.
        ("nome_do_arquivo 2*3*4", "nome_do_arquivo 2*3*4"),
        ("* solto * e _ solto _", "* solto * e _ solto _"),
        ("<b>oi</b> *x*", "&lt;b&gt;oi&lt;/b&gt; <strong>x</strong>"),
        ("*CPF:* 123.456.789-09", "<strong>CPF:</strong> ***.456.789-**"),
        ("", ""),
    ],
)
def test_whatsapp_text_is_rendered_as_organizers_expect(text, html):
    assert str(whatsapp_html(text)) == html


def test_cpf_shaped_numbers_are_masked_in_any_form():
    assert mask_cpfs("12345678909 e 123 456 789 09") == "***.456.789-** e ***.456.789-**"
    assert mask_cpfs("telefone +5562987654321") == "telefone +5562987654321"
