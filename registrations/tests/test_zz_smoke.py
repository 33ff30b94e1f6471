import pytest
from registrations.tests.conftest import register, HAPPY_ANSWERS

def test_smoke(chat):
    c = chat()
    print(c.text("quero me inscrever"))
    for a in HAPPY_ANSWERS:
        print(">>", a)
        print(c.text(a))
    print(">> sim")
    print(c.text("sim"))
    print(c.state.data, c.step)
    print(c.text("minha inscrição"))
    from registrations.models import RegistrationEvent
    for e in RegistrationEvent.objects.order_by("id"): print(e.kind, e.step, e.detail)
