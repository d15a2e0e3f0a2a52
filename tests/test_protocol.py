"""Evaluation protocol: which checkpoint the prediction stages load."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import torch

from dataloader.loaders import make_loader
from utils import layout
from utils.checkpoint import load_checkpoint
from utils.training import Trainer, fit


# --- no model selection on the test subjects ---------------------------------------------------

def _worsening_trainer(run_dir: Path, epochs: int, resume: bool = False) -> Trainer:
    """A linear regression whose reported validation error is best at epoch 2 and worst at the last epoch."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    x = torch.randn(16, 3)
    data = [(x[i], x[i].sum(0, keepdim=True)) for i in range(16)]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    validation_error = iter([3.0, 1.0, 5.0, 6.0])  # one value per validation pass (one batch each)

    def step(m, batch):
        return torch.nn.functional.mse_loss(m(batch[0]), batch[1]), {}, len(batch[0])

    return Trainer(model=model, model_name="ViTPose", model_kwargs={}, optimizer=optimizer,
                   train_loader=make_loader(data, batch_size=4, shuffle=True, num_workers=0, seed=0),
                   val_loader=make_loader(data, batch_size=16, shuffle=False, num_workers=0, seed=0),
                   train_step=step, eval_step=lambda m, b: ({"error_px": next(validation_error)}, len(b[0])),
                   run_dir=run_dir, config={}, epochs=epochs, device=torch.device("cpu"), resume=resume)


def test_prediction_loads_the_last_epoch_even_when_validation_got_worse(tmp_path, monkeypatch):
    monkeypatch.setattr("utils.training.plot_curves", lambda *a, **k: None)  # matplotlib is not under test
    cfg = SimpleNamespace(run_dir=tmp_path)
    run_dir = layout.pose2d_dir(cfg, "ViTPose")
    trainer = _worsening_trainer(run_dir, epochs=3)
    metrics = fit(trainer)
    assert metrics["val_error_px"] == 5.0  # the last epoch validates worst of all

    predicted = load_checkpoint(layout.pose2d_checkpoint(cfg, "ViTPose"), expect_model="ViTPose")  # get2Dpredictions.py
    last = load_checkpoint(run_dir / "last.pt")
    assert predicted["epoch"] == last["epoch"] == 3
    final = trainer.model.state_dict()
    for key, value in final.items():
        assert torch.equal(predicted["model"][key], value), key
        assert torch.equal(last["model"][key], value), key
    assert "best_metric" not in last  # nothing in a checkpoint is chosen by (or records) a test-subject metric
    assert predicted["optimizer"] is None and last["optimizer"] is not None  # model.pt: weights only


def test_a_resumed_run_keeps_model_pt_at_the_last_epoch(tmp_path, monkeypatch):
    monkeypatch.setattr("utils.training.plot_curves", lambda *a, **k: None)
    fit(_worsening_trainer(tmp_path, epochs=2))
    trainer = _worsening_trainer(tmp_path, epochs=3, resume=True)
    fit(trainer)
    weights = load_checkpoint(tmp_path / "model.pt")
    assert weights["epoch"] == 3
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(weights["model"][key], value), key
