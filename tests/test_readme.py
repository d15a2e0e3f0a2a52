"""README blocks are copied from the measured report / bench tables, not typed in."""
import pytest

from utils.study.readme import main, report_tables, splice

README = "# Title\n\nintro\n<!-- results:begin -->\nold table\n<!-- results:end -->\n\n## Next\n"
REPORT = """# Study report: x

Profile `quick`.

## 2D estimators

| model | PCK |
|---|---|
| ViTPose | 0.5 |

![curves](2d/ViTPose/curves.png)

## Figures

- ![a](figures/a.png)

## Time per stage (this machine)

| stage | seconds |
|---|---|
| data | 11 |
"""


def test_splice_replaces_only_the_block():
    out = splice(README, "results", "new")
    assert out == README.replace("old table", "new")
    with pytest.raises(ValueError, match="bench:begin"):
        splice(README, "bench", "x")


def test_report_tables_drop_figures_and_nest_headings():
    body = report_tables(REPORT)
    assert "### 2D estimators" in body and "### Time per stage" in body and "| ViTPose | 0.5 |" in body
    assert "![" not in body and "Figures" not in body and "Study report" not in body


def test_cli_writes_the_readme_and_refuses_a_missing_source(tmp_path, capsys):
    readme, report = tmp_path / "README.md", tmp_path / "report.md"
    readme.write_text(README)
    report.write_text(REPORT)
    assert main(["results", str(report), "--readme", str(readme)]) == 0
    assert "| data | 11 |" in readme.read_text() and "old table" not in readme.read_text()
    assert main(["bench", str(tmp_path / "missing.md"), "--readme", str(readme)]) == 1
    assert "run `make bench` first" in capsys.readouterr().err
    assert main(["standard", str(report), "--readme", str(readme)]) == 1  # the README has no standard block
    assert "standard:begin" in capsys.readouterr().err
    readme.write_text(README + "<!-- standard:begin -->\n<!-- standard:end -->\n")
    assert main(["standard", str(report), "--readme", str(readme)]) == 0
    standard = readme.read_text().split("<!-- standard:begin -->")[1]
    assert "### 2D estimators" in standard and "| data | 11 |" in standard


def code_map_paths(readme: str) -> set[str]:
    """The paths the README's "Code map" tree names: two spaces of indent per folder level, a folder ends in '/'."""
    block = readme.split("## Code map", 1)[1].split("```", 2)[1]
    folders, paths = [], set()
    for line in block.splitlines():
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip())) // 2
        name = line.split()[0]
        folders = folders[:depth]
        path = "/".join(folders + [name.rstrip("/")])
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
        else:
            paths.add(path)
    return paths


def test_the_code_map_names_every_module_and_only_existing_ones():
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    listed = code_map_paths((repo / "README.md").read_text())
    modules = {p.name for p in repo.glob("*.py")} | {
        str(p.relative_to(repo)) for folder in ("dataloader", "models", "utils", "bench")
        for p in (repo / folder).rglob("*.py") if p.name != "__init__.py"}
    assert sorted(modules - listed) == [], "modules missing from the README's Code map"
    assert sorted(listed - modules) == [], "the README's Code map names files that do not exist"


def test_figures_block_copies_the_reports_images_beside_the_readme(tmp_path, capsys):
    """Every image the report shows is copied into docs/figures/ (folders kept apart in the name) and shown with the
    report's caption and header line; a missing file is skipped, one over the size limit listed, an earlier run's
    figures removed, and a README without the markers is refused before anything is copied."""
    import utils.study.readme as readme_module

    run = tmp_path / "run"
    (run / "figures").mkdir(parents=True)
    (run / "2d" / "ViTPose").mkdir(parents=True)
    (run / "figures" / "a.png").write_bytes(b"png a")
    (run / "2d" / "ViTPose" / "curves.png").write_bytes(b"png curves")
    (run / "figures" / "big.gif").write_bytes(b"x" * 64)
    report = run / "report.md"
    report.write_text(REPORT.replace("- ![a](figures/a.png)", "- ![a](figures/a.png)\n- ![big](figures/big.gif)\n"
                                     "- ![gone](figures/missing.png)"))
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert main(["figures", str(report), "--readme", str(readme)]) == 1
    assert "figures:begin" in capsys.readouterr().err and not (tmp_path / "docs").exists()
    readme.write_text(README + "<!-- figures:begin -->\nold\n<!-- figures:end -->\n")
    stale = tmp_path / "docs" / "figures" / "old.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    limit = readme_module.MAX_FIGURE_BYTES
    readme_module.MAX_FIGURE_BYTES = 32
    try:
        assert main(["figures", str(report), "--readme", str(readme)]) == 0
    finally:
        readme_module.MAX_FIGURE_BYTES = limit
    block = readme.read_text().split("<!-- figures:begin -->")[1].split("<!-- figures:end -->")[0]
    assert "Profile `quick`" in block and "\nold\n" not in block
    assert "![curves](docs/figures/2d-ViTPose-curves.png)" in block and "![a](docs/figures/figures-a.png)" in block
    assert block.index("2d-ViTPose-curves.png") < block.index("figures-a.png")  # the report's order
    assert "missing.png" not in block and "Left out" in block and "`figures/big.gif`" in block
    copied = sorted(p.name for p in (tmp_path / "docs" / "figures").iterdir())
    assert copied == ["2d-ViTPose-curves.png", "figures-a.png"]
    assert (tmp_path / "docs" / "figures" / "figures-a.png").read_bytes() == b"png a"
