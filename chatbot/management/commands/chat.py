"""Talk to the bot in a terminal: the same engine as /chat, no server needed.

Interactive, or scripted through a pipe:  printf 'oi\\n1\\n' | python manage.py chat
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from chatbot.engine import conversation_turn


class Command(BaseCommand):
    help = "Converse com o bot no terminal (mesmo motor do /chat)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", default="terminal", help="conversation id (default: terminal)")
        parser.add_argument("--name", default="", help="display name, like WhatsApp's push name")

    def handle(self, *args, user: str, name: str, **options) -> None:
        interactive = sys.stdin.isatty()
        if interactive:
            self.stdout.write("Converse com o bot. Ctrl+D ou /sair para terminar.\n")
        while True:
            if interactive:
                self.stdout.write("você> ", ending="")
                self.stdout.flush()
            line = sys.stdin.readline()
            if not line:
                break
            text = line.rstrip("\n")
            if text.strip() in ("/sair", "/quit"):
                break
            if not text.strip():
                continue
            if not interactive:
                self.stdout.write(f"você> {text}")
            result = conversation_turn(conversation_id=user, text=text, push_name=name)
            self.stdout.write(f"bot [{result.step}]> " + result.reply.replace("\n", "\n    ") + "\n")
