"""Prompt size: retrieval (ours) vs the whole event information in every prompt.

The original system put all the event information into every LLM prompt. We
send the system prompt, the top retrieved documents, and the question. For 20
typical questions against the demo event this prints the prompt tokens of
both ways and their ratio; the last line is

    prompt_size: ours_avg=... full_avg=... ratio=...

Self-contained: it runs on a throw-away SQLite database (migrated, with the
demo event loaded) and never touches the configured database or Redis, and
needs no OpenAI key (nothing is sent anywhere).

    python bench/prompt_size.py

Tokens are counted with tiktoken (o200k_base) when it is installed and its
encoding is available offline, otherwise estimated as words x 1.3; the
output says which.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

QUESTIONS = [
    "Quando vai ser o congresso?",
    "Onde fica o evento?",
    "Qual o endereço?",
    "Quanto custa a inscrição?",
    "Estudante paga meia?",
    "Tem estacionamento?",
    "Vou receber certificado?",
    "O almoço está incluído?",
    "O local tem acessibilidade para cadeirante?",
    "Como faço para me inscrever?",
    "Posso cancelar e pedir reembolso?",
    "Tem hotel perto do evento?",
    "Como chego do aeroporto?",
    "Posso levar meu filho?",
    "Tem wifi?",
    "Quais as formas de pagamento?",
    "Qual a programação de quarta?",
    "Quando é a palestra sobre mercado de carbono?",
    "Qual o e-mail de contato?",
    "Quero ser expositor, como faço?",
]
PER_MESSAGE_OVERHEAD = 4  # role and separators, as OpenAI counts chat messages


def _setup_django(db_path: str) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ["REDIS_URL"] = ""
    os.environ["OPENAI_API_KEY"] = ""
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "congress.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as devnull:
        call_command("load_demo_event", verbosity=0, stdout=devnull)


def _token_counter():
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("o200k_base")
        return (lambda text: len(encoding.encode(text))), "tiktoken o200k_base"
    except Exception:  # not installed, or the encoding cannot be fetched offline
        return (lambda text: round(len(text.split()) * 1.3)), "estimate: words x 1.3 (tiktoken unavailable)"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="prompt-size-") as tmp:
        _setup_django(str(Path(tmp) / "bench.sqlite3"))

        from chatbot.answer import TOP_K, build_messages
        from chatbot.knowledge import DocKind, get_knowledge_index

        count, method = _token_counter()

        def prompt_tokens(messages: list[dict[str, str]]) -> int:
            return sum(count(m["content"]) + PER_MESSAGE_OVERHEAD for m in messages)

        index = get_knowledge_index()
        # The whole event information, each fact once: day summaries repeat the
        # sessions and ticket documents repeat the price list, so leave them out.
        everything = [d for d in index.docs if d.kind not in (DocKind.DAY, DocKind.TICKET)]
        status = "Ainda não inscrito."
        print(
            f"demo event: {index.event} · {len(index.docs)} knowledge documents · ours: top {TOP_K} · "
            f"full: {len(everything)} documents (every fact once)"
        )
        print(f"token counting: {method}")
        print(f"{'question':<48} {'ours':>6} {'full':>6}")
        ours_total = full_total = 0
        for question in QUESTIONS:
            hits = index.retriever.search(question, k=TOP_K)
            ours = prompt_tokens(
                build_messages(question=question, docs=[h.doc for h in hits], event=index.event, participant_status=status)
            )
            full = prompt_tokens(
                build_messages(question=question, docs=everything, event=index.event, participant_status=status)
            )
            ours_total += ours
            full_total += full
            print(f"{question[:48]:<48} {ours:>6} {full:>6}")
        ours_avg = ours_total / len(QUESTIONS)
        full_avg = full_total / len(QUESTIONS)
        print(f"prompt_size: ours_avg={ours_avg:.0f} full_avg={full_avg:.0f} ratio={full_avg / ours_avg:.1f}")


if __name__ == "__main__":
    main()
