"""``/``: the public page about the event, with the WhatsApp link and its QR code."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from congress.testing.factories import make_event

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return re.sub(r"<svg.*?</svg>", "", response.content.decode(), flags=re.S)


def test_the_home_page_shows_the_event_the_whatsapp_link_and_its_qr_code(client):
    make_event(
        name="Congresso Agro do Cerrado",
        edition="2027",
        starts_on="2027-05-11",
        ends_on="2027-05-13",
        venue="Centro de Convenções",
        city="Goiânia",
        uf="GO",
        assistant_whatsapp="(62) 98765-4321",
    )
    response = client.get("/")
    page = _text(response)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "Congresso Agro do Cerrado" in page and "Centro de Convenções" in page and "Goiânia/GO" in page
    # Dates in pt-BR whatever the browser asks for.
    assert "11 de maio" in page and "13 de maio de 2027" in page
    assert 'href="https://wa.me/5562987654321?text=oi"' in page
    assert "Falar no WhatsApp" in page
    svg = re.search(r"<svg.*?</svg>", response.content.decode(), flags=re.S)
    assert svg and "wa.me/5562987654321" in svg.group(0)  # the QR code encodes the same link
    assert reverse("privacy-notice") in page


def test_the_home_page_is_in_portuguese_for_an_english_browser(client):
    make_event(starts_on="2027-05-11", ends_on="2027-05-13")
    page = _text(client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9"))
    assert "maio" in page and "may" not in page.lower().replace("maio", "")


def test_without_the_assistants_number_the_page_has_no_broken_link(client):
    make_event(assistant_whatsapp="")
    page = client.get("/").content.decode()
    assert "wa.me" not in page and "<svg" not in page


@pytest.mark.parametrize("number", ["123", "não sei", "(00) 0000-0000"])
def test_an_invalid_assistant_number_is_not_linked(client, number):
    make_event(assistant_whatsapp=number)
    response = client.get("/")
    assert response.status_code == 200 and "wa.me" not in response.content.decode()


def test_without_an_event_the_page_still_answers(client):
    response = client.get("/")
    assert response.status_code == 200 and "Em breve" in response.content.decode()


def test_what_organizers_type_is_escaped(client):
    make_event(name='<script>alert("x")</script>', description="<img src=x onerror=alert(1)>")
    page = client.get("/").content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page and "&lt;script&gt;" in page


def test_the_page_only_answers_reads(client):
    make_event()
    assert client.head("/").status_code == 200
    assert client.post("/", {"x": "1"}).status_code == 405


def test_the_admins_view_site_link_leads_to_the_home_page(client):
    user = get_user_model().objects.create_superuser("org", "org@example.com", "senha-forte-123")
    client.force_login(user)
    page = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert re.search(r'<a href="/">\s*Ver o site\s*</a>', page)


def test_the_number_is_shown_formatted_and_the_button_comes_first(client):
    make_event(assistant_whatsapp="5562996022027", description="Descrição longa do evento.")
    page = _text(client.get("/"))
    assert "(62) 99602-2027" in page
    assert page.index("Falar no WhatsApp") < page.index("Descrição longa do evento.")


def test_with_registrations_closed_the_page_does_not_invite_to_register(client):
    make_event(assistant_whatsapp="(62) 99602-2027", registration_open=False)
    page = _text(client.get("/"))
    assert "Inscrições encerradas" in page and "Tire dúvidas pelo WhatsApp" in page
    assert "faça sua inscrição" not in page


def test_a_website_that_is_not_a_web_link_is_not_linked(client):
    make_event(website="javascript:alert(1)")
    assert "javascript:" not in client.get("/").content.decode()


@pytest.mark.parametrize(("number", "valid"), [("(62) 99602-2027", True), ("62996022027", True), ("123", False), ("(00) 0000-0000", False)])
def test_the_admin_refuses_an_invalid_assistant_number(number, valid):
    from django.core.exceptions import ValidationError

    event = make_event(assistant_whatsapp=number)
    if valid:
        event.full_clean()
    else:
        with pytest.raises(ValidationError) as error:
            event.full_clean()
        assert "assistant_whatsapp" in error.value.message_dict
