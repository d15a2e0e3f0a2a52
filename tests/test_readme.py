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
