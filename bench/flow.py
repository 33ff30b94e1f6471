"""What reading a message costs: the pure registration flow and its readers, in ONE process.

    python bench/flow.py [--users 300]

No database, no server: the ``/chat`` benchmark's registration script (nine
messages per user) goes through the router and the pure flow exactly as the
engine's adapter drives them (router, owners' keys, ``advance``). Printed: CPU
ms per registration message for the whole flow, then each reader's CPU per
call on the same messages, and the flow's share of a ``/chat`` message as
``bench/profile_chat.py`` measures it (pass ``--chat-ms`` to compare).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "congress.settings")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--chat-ms", type=float, default=0.0, help="CPU ms per /chat message from profile_chat.py")
    args = parser.parse_args(argv)

    import django

    django.setup()
    from bench.common import registration_script
    from chatbot.router import route
    from registrations import flow, places
    from registrations.reading import answers, emails, names, numbers

    profiles = tuple(
        flow.ProfileOption(index, name)
        for index, name in enumerate(
            ["Produtor rural", "Pesquisador(a)/Professor(a)", "Estudante", "Empresa/Expositor", "Outro"], start=1
        )
    )
    ctx = flow.FlowContext(now=dt.datetime.now(dt.UTC), event_name="Congresso", profiles=profiles, region=("GO", "DF"))

    def register(user: int) -> str:
        state = flow.FlowState()
        for turn, text in enumerate(registration_script(user)):
            understood = route(text, in_flow=state.step in flow.IN_FLOW_STEPS).for_flow()
            flow.lookup_keys(state, text)
            state, _replies, _effects = flow.advance(state, text, ctx=replace(ctx, turn=turn, understood=understood))
        return str(state.step)

    places.read_place("Goiânia")  # the place index is built once per process
    assert register(0) == "confirming", "the benchmark script no longer completes a registration"
    started = time.process_time()
    for user in range(1, args.users + 1):
        register(user)
    per_message = (time.process_time() - started) / (args.users * 9) * 1000
    print(f"flow: users={args.users} cpu_ms_per_registration_message={per_message:.3f}")

    messages = [text for user in range(1, 51) for text in registration_script(user)]
    readers = {
        "route": lambda text: route(text, in_flow=True),
        "read_name": names.read_name,
        "read_email": emails.read_email,
        "read_cpf": numbers.read_cpf,
        "read_phone": numbers.read_phone,
        "read_yes_no": answers.read_yes_no,
        "read_place": lambda text: places.read_place(text, region=("GO", "DF")),
    }
    for name, reader in readers.items():
        started = time.process_time()
        for text in messages:
            reader(text)
        micro = (time.process_time() - started) / len(messages) * 1e6
        print(f"reader: {name} cpu_us_per_call={micro:.1f}")
    if args.chat_ms:
        print(f"flow_share_of_chat_message={per_message / args.chat_ms:.1%}")


if __name__ == "__main__":
    main()
