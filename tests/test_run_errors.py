"""Bad inputs caught by the run itself (output folders, the training loop):
one line naming the file or key, nothing written (the harness: tests/bad_inputs.py)."""
from __future__ import annotations

import os

import pytest

from tests.bad_inputs import G, Bad, _bad_yaml, check_case, check_one_line_error
from tests.helpers import GRAPHMLP, base_overrides, call_stage, snapshot

CASES = {
    "output_root_is_a_file": Bad("main.py", G + ("output_root={out}/bad.yml",), ("Not a directory: {out}/bad.yml",),
                                 _bad_yaml),
    "non_finite_loss": Bad("main.py", G + ("lifting.lr=1.0e+30", "lifting.epochs=1"), ("non-finite loss",),
                           new_outputs_ok=True),
    "infinite_noise": Bad("main.py", G + ("noise_std=.inf",), ("'noise_std' = inf must be finite",)),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_fails_with_one_line_and_leaves_outputs(case, tiny_root, outputs, tmp_path):
    check_case(case, tiny_root, outputs, tmp_path)


def test_output_root_under_a_regular_file(tiny_root, tmp_path):
    """An output_root that cannot be created, for root too (root ignores permissions, not file types): one
    line naming the path, and the file in the way is left as it was."""
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = blocker / "runs"
    code, _, err = call_stage("main.py", base_overrides(tiny_root, out) + GRAPHMLP)
    check_one_line_error(code, err, ["Not a directory", str(blocker)])
    assert blocker.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions (test_output_root_under_a_regular_file "
                                              "covers root)")
def test_unwritable_output_root(tiny_root, tmp_path):
    out = tmp_path / "readonly"
    out.mkdir()
    out.chmod(0o555)
    try:
        code, _, err = call_stage("main.py", base_overrides(tiny_root, out) + GRAPHMLP)
        line = check_one_line_error(code, err, ["Permission denied", str(out)])
        assert "output_root" in line
        assert snapshot(out) == {}
    finally:
        out.chmod(0o755)
