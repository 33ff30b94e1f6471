"""Generate ``registrations/data/municipios.csv`` (IBGE code, accented name, UF).

The list of the 5,570 Brazilian municipalities comes from two public PyPI
packages that are *not* runtime dependencies of this project:

* ``brutils`` ships ``brutils/data/cities_code.json``: every municipality
  with its IBGE code and UF, names lower-cased and without accents. It is
  recent, so it is the authority for which municipalities exist and what
  they are called today.
* ``brasil.vocab==0.8`` ships ``brasil/vocab/geo/cidade.py``: the accented
  official names of 5,565 of them, keyed by the same IBGE codes (as of 2010).

A name from ``brasil.vocab`` is used when it folds (lower case, no accents)
to the ``brutils`` name. Municipalities renamed since 2010 and the five
created in 2013 are hardcoded below; the script refuses to write the file if
any code is left without an accented name.

To rerun (from the repository root; nothing is installed into the venv)::

    pip download --no-deps brutils "brasil.vocab==0.8" -d /tmp/brdata
    cd /tmp/brdata && unzip -q brutils-*.whl -d brutils_pkg \\
        && tar xzf brasil.vocab-0.8.tar.gz && cd -
    python scripts/build_municipios.py \\
        --brutils /tmp/brdata/brutils_pkg/brutils/data/cities_code.json \\
        --vocab /tmp/brdata/brasil.vocab-0.8/brasil/vocab/geo/cidade.py

Without ``--brutils``/``--vocab`` the script looks the files up in installed
packages, e.g. after ``pip install --target /tmp/x brutils brasil.vocab==0.8``
run it with ``PYTHONPATH=/tmp/x``. ``--output`` changes the destination.
"""

from __future__ import annotations

import argparse
import ast
import csv
import importlib.util
import json
import sys
import unicodedata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "registrations" / "data" / "municipios.csv"
EXPECTED_COUNT = 5570
EXPECTED_UFS = 27

# Created in 2013: absent from brasil.vocab 0.8.
CREATED_2013: dict[int, str] = {
    1504752: "Mojuí dos Campos",
    4220000: "Balneário Rincão",
    4212650: "Pescaria Brava",
    4314548: "Pinto Bandeira",
    5006275: "Paraíso das Águas",
}

# Renamed (or respelled) after brasil.vocab 0.8 was published; the accented
# current official names. Each must fold to the brutils name (checked).
RENAMED: dict[int, str] = {
    1502954: "Eldorado do Carajás",
    1506500: "Santa Izabel do Pará",
    1708254: "Tabocão",
    2306306: "Itapajé",
    2401305: "Campo Grande",
    2408409: "Olho d'Água do Borges",
    2410306: "Serra Caiada",
    2513653: "Joca Claudino",
    2515401: "São Vicente do Seridó",
    2516409: "Tacima",
    2601607: "Belém do São Francisco",
    2606903: "Iguaracy",
    2608503: "Lagoa de Itaenga",
    2800100: "Amparo do São Francisco",
    2922250: "Muquém do São Francisco",
    2928505: "Santa Terezinha",
    3108909: "Brazópolis",
    3122900: "Dona Euzébia",
    3147808: "Passa Vinte",
    3165206: "São Tomé das Letras",
    3506607: "Biritiba Mirim",
    3515004: "Embu das Artes",
    3516101: "Florínea",
    3530805: "Mogi Mirim",
    3550001: "São Luiz do Paraitinga",
    4206108: "Grão-Pará",
    5107008: "Poxoréu",
    5107800: "Santo Antônio de Leverger",
}


def fold(text: str) -> str:
    """Lower-case ``text`` and strip accents (same rule as the validators)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.lower().split())


def find_package_file(package: str, relative: str) -> Path:
    """Locate ``relative`` inside an importable ``package`` without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            f"Package {package!r} not found: pass the file path (see --help)."
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.exists():
            return candidate
    raise SystemExit(f"{relative} not found in package {package!r}.")


def read_brutils(path: Path) -> dict[int, tuple[str, str]]:
    """Return ``{ibge_code: (folded_name, uf)}`` from brutils' cities_code.json."""
    data: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    return {
        int(code): (name, uf)
        for uf, cities in data.items()
        for name, code in cities.items()
    }


def read_vocab(path: Path) -> dict[int, tuple[str, str]]:
    """Return ``{ibge_code: (accented_name, uf)}`` from brasil.vocab's cidade.py.

    The module is parsed as literals (``ast.literal_eval``), never executed.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "cidades"
        ):
            rows = ast.literal_eval(node.value)
            return {int(row[0]): (row[1], row[2]) for row in rows}
    raise SystemExit(f"No 'cidades' list found in {path}.")


def build_rows(
    *, brutils: dict[int, tuple[str, str]], vocab: dict[int, tuple[str, str]]
) -> list[tuple[int, str, str]]:
    """Merge both sources into sorted ``(ibge_code, name, uf)`` rows."""
    rows: list[tuple[int, str, str]] = []
    problems: list[str] = []
    for code, (plain_name, uf) in brutils.items():
        if code in CREATED_2013:
            name = CREATED_2013[code]
        elif code in RENAMED:
            name = RENAMED[code]
        elif code in vocab and fold(vocab[code][0]) == fold(plain_name):
            name = vocab[code][0]
            if vocab[code][1] != uf:
                problems.append(f"{code}: UF {vocab[code][1]} vs {uf}")
        else:
            problems.append(f"{code} {plain_name!r}/{uf}: no accented name")
            continue
        if fold(name) != fold(plain_name):
            problems.append(f"{code}: {name!r} does not fold to {plain_name!r}")
        rows.append((code, name, uf))
    if problems:
        raise SystemExit("Cannot build the file:\n" + "\n".join(problems))
    rows.sort()
    return rows


def check_rows(rows: list[tuple[int, str, str]]) -> None:
    """Fail loudly unless the rows look like the full IBGE list."""
    codes = [code for code, _, _ in rows]
    pairs = {(name, uf) for _, name, uf in rows}
    checks = {
        f"{EXPECTED_COUNT} rows": len(rows) == EXPECTED_COUNT,
        "unique codes": len(set(codes)) == len(codes),
        f"{EXPECTED_UFS} UFs": len({uf for _, _, uf in rows}) == EXPECTED_UFS,
        "São Paulo/SP": ("São Paulo", "SP") in pairs,
        "Londrina/PR": ("Londrina", "PR") in pairs,
        "Santa Maria/RS": ("Santa Maria", "RS") in pairs,
        "Santa Maria/RN": ("Santa Maria", "RN") in pairs,
        "Mojuí dos Campos/PA": ("Mojuí dos Campos", "PA") in pairs,
    }
    failed = [label for label, ok in checks.items() if not ok]
    if failed:
        raise SystemExit("Sanity checks failed: " + ", ".join(failed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--brutils", type=Path, help="path to brutils/data/cities_code.json"
    )
    parser.add_argument("--vocab", type=Path, help="path to brasil/vocab/geo/cidade.py")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    brutils_path = args.brutils or find_package_file("brutils", "data/cities_code.json")
    vocab_path = args.vocab or find_package_file("brasil.vocab.geo", "cidade.py")
    rows = build_rows(brutils=read_brutils(brutils_path), vocab=read_vocab(vocab_path))
    check_rows(rows)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["ibge_code", "name", "uf"])
        writer.writerows(rows)
    print(f"Wrote {len(rows)} municipalities to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
