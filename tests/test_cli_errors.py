"""utils/engine/cli.py: how every stage script turns a user error into one line and a non-zero exit."""
from __future__ import annotations

import pytest

from tests.bad_inputs import check_one_line_error
from tests.helpers import base_overrides, call_stage, last_line, run_stage
from utils.engine.cli import call


@pytest.mark.parametrize("script, args, expect", [
    ("main.py", ["lifting.epoch=3"], ["did you mean 'lifting.epochs'"]),                 # fails in setup()
    ("get2Dpredictions.py", ["model_2D_prediction=Hourglass"], ["python train2D.py"]),  # fails after loading
], ids=["config", "checkpoint"])
def test_real_process_reports_the_same_one_line(script, args, expect, tiny_root, tmp_path):
    """The in-process path of the catalogue (tests/bad_inputs.check_case) is the real one: a subprocess ends
    the same way, with status 1."""
    overrides = base_overrides(tiny_root, tmp_path) + args
    code, _, err = run_stage(script, overrides)
    line = check_one_line_error(code, err, expect)
    assert code == 1
    assert line == last_line(call_stage(script, overrides)[2])


def _raises(exc: BaseException):
    def main(argv):
        raise exc
    return main


@pytest.mark.parametrize("exc, line", [
    (PermissionError(13, "Permission denied", "/runs/x"),
     "error: Permission denied: /runs/x; make it writable or set output_root to a writable folder"),
    (NotADirectoryError(20, "Not a directory", "/runs/file/x"), "error: Not a directory: /runs/file/x"),
    (SystemExit("error: no trained ViTPose at m.pt\nsecond line"), "error: no trained ViTPose at m.pt"),
    (FloatingPointError("GraphMLP: non-finite loss nan at epoch 1"), "error: GraphMLP: non-finite loss nan at epoch 1"),
], ids=["permission", "not_a_directory", "system_exit_text", "non_finite_loss"])
def test_cli_turns_user_errors_into_one_line(exc, line, capsys):
    """utils.engine.cli.call's formatting, including the permission error the root-run suite cannot provoke."""
    assert call(_raises(exc), []) == 1
    assert capsys.readouterr().err == line + "\n"


def test_cli_lets_programming_errors_through():
    with pytest.raises(KeyError):
        call(_raises(KeyError("bug")), [])
    with pytest.raises(OSError):
        call(_raises(OSError("no path involved")), [])
