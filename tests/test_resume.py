"""Resume after a hard kill: a run SIGKILLed at several points and resumed with resume=true each time
ends in exactly the state of an uninterrupted run (metrics.csv rows, weights), every checkpoint on
disk stays readable at every kill, and a kill while a checkpoint is being written cannot leave an
unreadable last.pt.

What makes the resumed run identical: the checkpoint restores model, optimiser, scheduler and the
global RNGs; the datasets draw their augmentation from (seed, epoch, item), and the training order
from (seed, epoch) (dataloader.loaders.EpochRandomSampler), so nothing depends on how many epochs
this process has already run.
"""
from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

import pytest
import torch

from dataloader.loaders import make_loader
from tests.helpers import GRAPHMLP, base_overrides, graphmlp_dir, read_metrics, run_stage, start_stage
from utils.engine.checkpoint import CheckpointError, atomic_save, load_checkpoint
from utils.engine.training import Trainer, fit

POLL = 0.02  # s


def _checkpoint_epoch(path: Path) -> int:
    """Epoch stored in `path`, 0 when absent (the file is only ever replaced by a rename, so reads are safe)."""
    return load_checkpoint(path)["epoch"] if path.is_file() else 0


def _kill_when(proc, log: Path, ready, delay: float, timeout: float = 240.0) -> None:
    """SIGKILL `proc` `delay` seconds after `ready()` first holds."""
    start = time.monotonic()
    while not ready():
        assert proc.poll() is None, f"the run ended before the kill point: {log.read_text()[-2000:]}"
        assert time.monotonic() - start < timeout, "kill point never reached"
        time.sleep(POLL)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _rows(path: Path) -> int:
    """Data rows of a metrics.csv (0 when absent): a cheap poll, unlike loading a checkpoint."""
    return max(0, len(path.read_text().splitlines()) - 1) if path.is_file() else 0


def _killed_and_resumed(args: list[str], run_dir: Path, logs: Path) -> list[tuple[str, int]]:
    """Start the run three times, SIGKILL it at three points, resume it to the end; returns the kill
    points with the epoch of last.pt at each kill."""
    last, config, metrics = run_dir / "last.pt", run_dir / "config.yml", run_dir / "metrics.csv"

    def into_epoch_3():  # epoch 2's bookkeeping is over (config.yml follows last.pt): epoch 3 runs.
        # Cheap stat/row checks first, so the poll loop does not itself slow the run past the kill point.
        return (_rows(metrics) >= 2 and config.is_file() and last.is_file()
                and config.stat().st_mtime_ns >= last.stat().st_mtime_ns and _checkpoint_epoch(last) >= 2)

    # 3 epochs of 12 steps; each epoch ends with its metrics row, model.pt, last.pt, config.yml (+ curves.png).
    kill_points = [
        ("in epoch 1, before any checkpoint", lambda: run_dir.is_dir(), 0.05),
        ("just after epoch 1's last.pt", lambda: _checkpoint_epoch(last) >= 1, 0.0),
        ("inside epoch 3", into_epoch_3, 0.0),
    ]
    killed_at = []
    for i, (name, ready, delay) in enumerate(kill_points):
        log = logs / f"killed{i}.log"
        _kill_when(start_stage("main.py", args, log), log, ready, delay)
        killed_at.append((name, _checkpoint_epoch(last)))
        for ckpt in run_dir.glob("*.pt"):  # every checkpoint file present is readable
            load_checkpoint(ckpt, expect_model="GraphMLP")
    code, _, err = run_stage("main.py", args)
    assert code == 0, err[-3000:]
    assert f"at epoch {killed_at[-1][1]}" in err  # the last start resumed where the last kill left it
    return killed_at


def test_sigkilled_and_resumed_run_equals_uninterrupted(graphmlp_run, tiny_root, tmp_path):
    # Epoch 3 is a fraction of a second: on a loaded machine the run may finish between the poll that
    # sees epoch 2's checkpoint and the kill. That attempt tests nothing; start again (at most 3 times).
    for attempt in range(3):
        out = tmp_path / f"out{attempt}"
        run_dir = graphmlp_dir(out)
        args = base_overrides(tiny_root, out) + GRAPHMLP + ["resume=true"]  # the first start has nothing to resume
        (tmp_path / f"logs{attempt}").mkdir()
        killed_at = _killed_and_resumed(args, run_dir, tmp_path / f"logs{attempt}")
        if killed_at[-1][1] < 3:
            break
    assert killed_at[-1][1] < 3, f"the last kill came after the run had finished, 3 times: {killed_at}"

    last = run_dir / "last.pt"
    reference = graphmlp_dir(graphmlp_run)
    assert read_metrics(run_dir / "metrics.csv") == read_metrics(reference / "metrics.csv"), killed_at
    resumed, uninterrupted = load_checkpoint(last), load_checkpoint(reference / "last.pt")
    assert (resumed["epoch"], resumed["step"]) == (uninterrupted["epoch"], uninterrupted["step"])
    assert resumed["model"].keys() == uninterrupted["model"].keys()
    for key, value in uninterrupted["model"].items():
        assert torch.equal(resumed["model"][key], value), key
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == [], "temporary files left behind"


def test_training_order_is_a_function_of_seed_and_epoch():
    """A loader's epoch-k order must not depend on the epochs it has already run (a resumed
    process starts at epoch k with a fresh loader)."""
    data = list(range(40))
    long_lived = make_loader(data, batch_size=8, shuffle=True, num_workers=0, seed=3, drop_last=True)
    orders = []
    for epoch in range(3):
        long_lived.sampler.set_epoch(epoch)
        orders.append(torch.cat(list(long_lived)).tolist())
    fresh = make_loader(data, batch_size=8, shuffle=True, num_workers=0, seed=3, drop_last=True)
    fresh.sampler.set_epoch(2)
    assert torch.cat(list(fresh)).tolist() == orders[2]
    assert orders[0] != orders[1] != orders[2]           # still a new shuffle every epoch
    assert sorted(orders[1]) == data                      # a permutation: every item once


def _toy_trainer(run_dir: Path, epochs: int, resume: bool) -> Trainer:
    """A linear regression through `fit`: 8 steps of 4 per epoch, with dropout to use the global RNG."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(3, 1))
    x = torch.randn(32, 3)
    data = [(x[i], x[i].sum(0, keepdim=True)) for i in range(32)]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def step(m, batch):
        loss = torch.nn.functional.mse_loss(m(batch[0]), batch[1])
        return loss, {}, len(batch[0])

    return Trainer(model=model, model_name="Toy", model_kwargs={}, optimizer=optimizer,
                   scheduler=torch.optim.lr_scheduler.StepLR(optimizer, 1, 0.5),
                   train_loader=make_loader(data, batch_size=4, shuffle=True, num_workers=0, seed=0),
                   val_loader=make_loader(data, batch_size=8, shuffle=False, num_workers=0, seed=0),
                   train_step=step, eval_step=lambda m, b: ({"loss": step(m, b)[0].item()}, len(b[0])),
                   run_dir=run_dir, config={}, epochs=epochs, device=torch.device("cpu"), resume=resume)


@pytest.fixture
def no_plots(monkeypatch):
    monkeypatch.setattr("utils.engine.training.plot_curves", lambda *a, **k: None)  # matplotlib is not under test


def test_resume_replaces_the_row_of_an_epoch_killed_before_its_checkpoint(tmp_path, no_plots):
    """fit writes an epoch's row before its last.pt; a kill in between leaves a row the checkpoint
    does not have. The resumed run redoes that epoch and replaces the row; stale temporaries go."""
    fit(_toy_trainer(tmp_path / "straight", epochs=3, resume=False))
    run = tmp_path / "resumed"
    fit(_toy_trainer(run, epochs=2, resume=False))
    rows = (run / "metrics.csv").read_text().splitlines()
    (run / "metrics.csv").write_text("\n".join(rows + [rows[-1].replace("2,", "3,", 1)]) + "\n")  # epoch 3's row
    (run / ".last.pt.tmp999").write_bytes(b"half a checkpoint")                              # torn write
    fit(_toy_trainer(run, epochs=3, resume=True))
    assert read_metrics(run / "metrics.csv") == read_metrics(tmp_path / "straight" / "metrics.csv")
    assert [r["epoch"] for r in read_metrics(run / "metrics.csv")] == ["1", "2", "3"]
    assert not list(run.glob(".*tmp*"))
    resumed, straight = load_checkpoint(run / "last.pt"), load_checkpoint(tmp_path / "straight" / "last.pt")
    for key, value in straight["model"].items():
        assert torch.equal(resumed["model"][key], value), key


def test_a_failed_fresh_run_keeps_the_old_metrics(tmp_path, no_plots):
    """A new run (resume=false) replaces metrics.csv with its first row, not before: a run that dies
    in its first epoch leaves the previous log intact."""
    fit(_toy_trainer(tmp_path, epochs=1, resume=False))
    before = (tmp_path / "metrics.csv").read_text()
    trainer = _toy_trainer(tmp_path, epochs=1, resume=False)
    trainer.train_step = lambda m, b: (torch.tensor(float("nan"), requires_grad=True), {}, 4)
    with pytest.raises(FloatingPointError, match="non-finite loss"):
        fit(trainer)
    assert (tmp_path / "metrics.csv").read_text() == before


def _save_then_die_mid_write(path: str) -> None:
    """Child: write version 1 completely, then die by SIGKILL halfway through writing version 2."""
    atomic_save({"model": {"w": torch.ones(3)}, "model_name": "Toy", "epoch": 1}, Path(path))
    real_save = torch.save

    def dying_save(obj, fh, *a, **kw):
        real_save(obj, fh, *a, **kw)
        fh.flush()
        fh.truncate(fh.tell() // 2)  # half a file on disk, as if the write were cut here
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = dying_save
    atomic_save({"model": {"w": torch.zeros(3)}, "model_name": "Toy", "epoch": 2}, Path(path))


def _save_forever(path: str) -> None:
    """Child: overwrite `path` with ~4 MB checkpoints until killed."""
    for i in range(10 ** 6):
        atomic_save({"model": {"w": torch.full((1 << 20,), float(i))}, "model_name": "Toy", "epoch": i}, Path(path))


def test_kill_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path):
    ctx = multiprocessing.get_context("fork")  # a real process and a real SIGKILL, without a torch import
    path = tmp_path / "last.pt"
    child = ctx.Process(target=_save_then_die_mid_write, args=(str(path),))
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    ckpt = load_checkpoint(path)  # the complete version 1, not the half-written version 2
    assert ckpt["epoch"] == 1 and torch.equal(ckpt["model"]["w"], torch.ones(3))
    leftovers = list(tmp_path.glob(".last.pt.tmp*"))
    assert len(leftovers) == 1, "the kill did not land inside the write"
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(leftovers[0])


def test_kill_at_random_moments_of_repeated_saves(tmp_path):
    ctx = multiprocessing.get_context("fork")
    path = tmp_path / "last.pt"
    rng = random.Random(0)
    epochs = []
    for _ in range(4):
        child = ctx.Process(target=_save_forever, args=(str(path),))
        child.start()
        while not path.is_file():
            time.sleep(POLL)
        time.sleep(rng.random() * 0.3)
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        ckpt = load_checkpoint(path)  # never a torn file, whenever the kill lands
        assert torch.all(ckpt["model"]["w"] == ckpt["epoch"])
        epochs.append(ckpt["epoch"])
    assert len(epochs) == 4


def test_a_study_killed_mid_training_retrains_that_stage(tmp_path, no_plots):
    """study.py skips a training stage whose last.pt and config.yml are current, but a run killed
    part-way has both (of its last finished epoch): it must count as not done, and be trained again."""
    from utils.engine.checkpoint import training_finished
    from utils.study.plan import Stage, _finished, is_stale

    run = tmp_path / "run"
    killed = _toy_trainer(run, epochs=3, resume=False)

    def die_in_epoch_3(epoch):
        if epoch == 2:
            raise KeyboardInterrupt  # stands in for the SIGKILL of test_sigkilled_and_resumed_run_equals_uninterrupted
    killed.on_epoch_start = die_in_epoch_3
    with pytest.raises(KeyboardInterrupt):
        fit(killed)
    stage = Stage("train", [], outputs=[run / "last.pt"], up_to_date=_finished(run / "last.pt"))
    assert load_checkpoint(run / "last.pt")["epoch"] == 2 and not training_finished(run / "last.pt")
    assert is_stale(stage, [])
    fit(_toy_trainer(run, epochs=3, resume=True))
    assert training_finished(run / "last.pt") and not is_stale(stage, [])
    assert not training_finished(tmp_path / "absent.pt")
