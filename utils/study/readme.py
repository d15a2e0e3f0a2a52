"""Copy measured tables into README.md, so its numbers are the ones the code wrote.

README.md holds four generated blocks between HTML comments:

    <!-- results:begin --> … <!-- results:end -->    the tables of checkpoint/<experiment>/report.md (`make demo`)
    <!-- figures:begin --> … <!-- figures:end -->    that report's figures, copied into docs/figures/
    <!-- standard:begin --> … <!-- standard:end -->  the same tables for the longer profile (`profile=standard`)
    <!-- bench:begin --> … <!-- bench:end -->        bench/results/bench.md (`make bench`)

    python -m utils.study.readme results checkpoint/synthetic_quick/report.md
    python -m utils.study.readme figures checkpoint/synthetic_quick/report.md
    python -m utils.study.readme standard checkpoint/synthetic_standard/report.md
    python -m utils.study.readme bench bench/results/bench.md

Only the text between the markers changes. The table blocks leave the figures out (links into the git-ignored
checkpoint folder) and move section headings one level down to nest under the README's own heading; the figures
block copies every image the report shows (up to ``MAX_FIGURE_BYTES`` each) into ``docs/figures/``, replacing
what an earlier run put there, and shows them with the report's own captions and its header line (which run).
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

BLOCKS = ("results", "figures", "standard", "bench")
REPORT_BLOCKS = {"results": "make demo", "standard": "python study.py profile=standard experiment=synthetic_standard"}
FIGURE_DIR = Path("docs/figures")   # relative to the README's folder
MAX_FIGURE_BYTES = 2_000_000        # a larger figure (a long GIF) stays a link in report.md only
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


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


def report_images(report: str) -> list[tuple[str, str]]:
    """(caption, path relative to the report) of every image the report shows, in order, each path once."""
    seen, images = set(), []
    for caption, path in _IMAGE.findall(report):
        if path not in seen:
            seen.add(path)
            images.append((caption, path))
    return images


def figures_block(report: str, report_dir: Path, readme_path: Path) -> str:
    """Copy the images of `report` (report.md's text; its paths are relative to `report_dir`) into FIGURE_DIR beside
    the README (emptied first: only this run's figures stay) and return the README block that shows them. A figure
    file named `<folder>-<name>` keeps seed / model folders apart (seed0/2d/ViTPose/curves.png →
    seed0-2d-ViTPose-curves.png)."""
    header = next((line for line in report.splitlines() if line.startswith("Profile `")), "")
    out = readme_path.parent / FIGURE_DIR
    if out.is_dir():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    lines, left_out = [f"Figures of the run above, copied by `make readme` from its report ({header.rstrip('.')}).", ""], []
    for caption, rel in report_images(report):
        source = report_dir / rel
        if not source.is_file():
            continue
        if source.stat().st_size > MAX_FIGURE_BYTES:
            left_out.append(rel)
            continue
        name = rel.replace("/", "-")
        shutil.copyfile(source, out / name)
        lines += [f"**{caption}** (`{rel}`)", "", f"![{caption}]({(FIGURE_DIR / name).as_posix()})", ""]
    if left_out:
        lines += [f"Left out (over {MAX_FIGURE_BYTES / 1e6:g} MB each; in the run's folder): "
                  + ", ".join(f"`{rel}`" for rel in left_out), ""]
    return "\n".join(lines)


def bench_table(bench: str) -> str:
    """bench.md without its title."""
    lines = bench.splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines).strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("block", choices=BLOCKS)
    parser.add_argument("source", type=Path, help="report.md (results, figures, standard) or bench.md (bench)")
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    args = parser.parse_args(argv)
    if not args.source.is_file():
        make = REPORT_BLOCKS.get(args.block, "make demo" if args.block == "figures" else "make bench")
        print(f"error: {args.source} not found; run `{make}` first", file=sys.stderr)
        return 1
    text, readme = args.source.read_text(), args.readme.read_text()
    try:
        splice(readme, args.block, "")  # the markers first: nothing is copied for a README without them
    except ValueError as exc:
        print(f"error: {args.readme}: {exc}", file=sys.stderr)
        return 1
    if args.block == "figures":
        body = figures_block(text, args.source.parent, args.readme)
    else:
        body = report_tables(text) if args.block in REPORT_BLOCKS else bench_table(text)
    updated = splice(readme, args.block, body)
    args.readme.write_text(updated)
    print(f"{args.readme}: {args.block} block replaced from {args.source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
