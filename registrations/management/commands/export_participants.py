"""Export registrants as CSV for Excel pt-BR (UTF-8 with BOM, ';' by default) or as XLSX.

    python manage.py export_participants --output inscritos.csv --uf SP --status confirmed
    python manage.py export_participants --output inscritos.xlsx      # XLSX, from the extension
    python manage.py export_participants --format xlsx -o inscritos.xlsx --mask-cpf
"""

from __future__ import annotations

import argparse
import datetime as dt
import os

from django.core.management.base import BaseCommand, CommandError

from chatbot.models import Profile
from registrations.audit import command_filters_text, export_record_create
from registrations.export import FORMATS, iter_csv, write_csv, write_xlsx
from registrations.filters import filter_participants
from registrations.models import Participant


def _date(value: str) -> dt.date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    # argparse turns this into "error: argument --since: ..." (exit status 2
    # on the command line, CommandError from call_command), not a traceback.
    raise argparse.ArgumentTypeError(f"invalid date {value!r}: use YYYY-MM-DD or DD/MM/YYYY")


class _Raw:
    """Write through Django's OutputWrapper without it adding line endings."""

    def __init__(self, wrapper) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")


class Command(BaseCommand):
    help = "Exporta os inscritos em CSV (abre corretamente no Excel em português) ou XLSX."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", "-o", help="file to write (default: standard output, CSV only)")
        parser.add_argument(
            "--format", choices=FORMATS, help="csv or xlsx (default: xlsx when --output ends in .xlsx, else csv)"
        )
        parser.add_argument("--delimiter", default=";", choices=[";", ",", "tab"], help="CSV field separator (default ';')")
        parser.add_argument("--mask-cpf", action="store_true", help="mask CPFs (***.456.789-**), as the Equipe role sees them")
        parser.add_argument("--status", choices=[c for c, _ in Participant.Status.choices])
        parser.add_argument("--uf", help="state, e.g. SP")
        parser.add_argument("--profile", help="profile name or id")
        parser.add_argument("--since", type=_date, help="registered on or after (YYYY-MM-DD)")
        parser.add_argument("--until", type=_date, help="registered on or before (YYYY-MM-DD)")
        parser.add_argument("--search", help="name, e-mail, city, phone or CPF")

    def handle(self, *args, output: str | None, delimiter: str, **options) -> None:
        file_format = options.get("format") or ("xlsx" if output and output.lower().endswith(".xlsx") else "csv")
        full_cpf = not options.get("mask_cpf")
        filters = {k: options.get(k) for k in ("status", "uf", "profile", "since", "until", "search")}
        if filters["profile"]:
            self._warn_unknown_profile(filters["profile"])
        queryset = filter_participants(**filters)
        if file_format == "xlsx":
            if not output:
                raise CommandError("XLSX needs --output FILE.xlsx (it is a binary file)")
            with open(output, "wb") as stream:
                count = write_xlsx(queryset, stream, full_cpf=full_cpf)
        else:
            rows = iter_csv(queryset, delimiter=delimiter, full_cpf=full_cpf)
            if output:
                with open(output, "w", encoding="utf-8", newline="") as stream:
                    count = write_csv(rows, stream)
            else:
                count, closed = self._write_stdout(rows)
                if closed:
                    # The reader went away (``| head``): record what was
                    # handed over and stop, quietly, like any Unix filter.
                    self._record(count, filters, file_format)
                    return
        self._record(count, filters, file_format)
        self.stderr.write(f"{count} participant(s) exported" + (f" to {output}" if output else ""))

    def _record(self, count: int, filters: dict, file_format: str) -> None:
        export_record_create(
            actor="export_participants",
            action="export_command",
            row_count=count,
            filters=command_filters_text(filters),
            file_format=file_format,
        )

    def _write_stdout(self, rows) -> tuple[int, bool]:
        """Write the CSV lines to standard output; ``(participants written, reader closed the pipe)``."""
        stream = _Raw(self.stdout)
        count = -1  # the header is not a participant
        try:
            for line in rows:
                stream.write(line)
                count += 1
            self.stdout.flush()
        except BrokenPipeError:
            self._silence_stdout()
            return max(count, 0), True
        return max(count, 0), False

    def _silence_stdout(self) -> None:
        # Python flushes sys.stdout again at exit and would print "Exception
        # ignored ... BrokenPipeError": point the descriptor at /dev/null
        # (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
        try:
            descriptor = self.stdout.fileno()
        except (AttributeError, OSError, ValueError):  # not a real file (captured output)
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, descriptor)
        os.close(devnull)

    def _warn_unknown_profile(self, profile: str) -> None:
        known = Profile.objects.filter(pk=int(profile)) if profile.isdigit() else Profile.objects.filter(name__iexact=profile)
        if known.exists():
            return
        names = sorted(set(Profile.objects.values_list("name", flat=True)), key=str.casefold)
        self.stderr.write(
            f"warning: no profile {profile!r}; valid profiles: " + (", ".join(names) if names else "(none)"),
            style_func=self.style.WARNING,
        )
