"""Copy measured tables into README.md, so its numbers are the ones the code wrote.

README.md holds three generated blocks between HTML comments:

    <!-- results:begin --> … <!-- results:end -->    the tables of checkpoint/<experiment>/report.md (`make demo`)
    <!-- standard:begin --> … <!-- standard:end -->  the same for the longer profile (`profile=standard`)
    <!-- bench:begin --> … <!-- bench:end -->        bench/results/bench.md (`make bench`)

    python -m utils.study.readme results checkpoint/synthetic_quick/report.md
    python -m utils.study.readme standard checkpoint/synthetic_standard/report.md
    python -m utils.study.readme bench bench/results/bench.md

Only the text between the markers changes. Figures (links into the git-ignored checkpoint folder)
are left out and section headings move one level down to nest under the README's own heading.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

BLOCKS = ("results", "standard", "bench")
REPORT_BLOCKS = {"results": "make demo", "standard": "python study.py profile=standard experiment=synthetic_standard"}


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def splice(readme: str, name: str, body: str) -> str:
    """`readme` with the text between the `name` markers replaced by `body`; ValueError if a marker is missing."""
    begin, end = markers(name)
    i, j = readme.find(begin), readme.find(end)
    if i < 0 or j < i:
        raise ValueError(f"README has no '{begin}' … '{end}' block; add the two markers where the {name} go")
    return readme[:i + len(begin)] + "\n" + body.strip() + "\n" + readme[j:]


def report_tables(report: str) -> str:
    """report.md without its title, image lines and figure list, headings one level deeper."""
    lines, skip = [], False
    for line in report.splitlines()[1:]:
        if line.startswith("## Figures"):
            skip = True
            continue
        if skip and line.startswith("## "):
            skip = False
        if skip or line.lstrip("- ").startswith("!["):
            continue
        lines.append("#" + line if line.startswith("#") else line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def bench_table(bench: str) -> str:
    """bench.md without its title."""
    lines = bench.splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines).strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("block", choices=BLOCKS)
    parser.add_argument("source", type=Path, help="report.md (results, standard) or bench.md (bench)")
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    args = parser.parse_args(argv)
    if not args.source.is_file():
        make = REPORT_BLOCKS.get(args.block, "make bench")
        print(f"error: {args.source} not found; run `{make}` first", file=sys.stderr)
        return 1
    text = args.source.read_text()
    body = report_tables(text) if args.block in REPORT_BLOCKS else bench_table(text)
    try:
        updated = splice(args.readme.read_text(), args.block, body)
    except ValueError as exc:
        print(f"error: {args.readme}: {exc}", file=sys.stderr)
        return 1
    args.readme.write_text(updated)
    print(f"{args.readme}: {args.block} block replaced from {args.source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
