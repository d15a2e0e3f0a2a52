"""Stage 1: train the 2D pose estimator `model_2D_prediction` (ViTPose or Hourglass) on the training
subjects, with validation curves on the test subjects every epoch (monitoring only: the predictions use
the last epoch, no checkpoint is chosen by them).

Heatmap MSE against Gaussian targets (σ = `pose2d.sigma` heatmap px, `pose2d.hourglass_sigma` for the Hourglass) on person crops from the
ground-truth box. Per epoch: PCK@0.05 and @0.1 of the box size, the mean 2D error in full-frame
pixels (sub-pixel decoding, flip test), and the study's "AP50" (PCK at half the GT box diagonal).
Writes checkpoint/<experiment>/2d/<model>/{model.pt, last.pt, config.yml, metrics.csv, curves.png}: model.pt
holds the last epoch's weights, last.pt the same plus the state to resume. `pose2d.init` (the Hourglass:
`pose2d.hourglass_init`) starts from a file instead of random weights: an official checkpoint (mmpose ViTPose,
an MAE ViT encoder, princeton-vl's Stacked Hourglass) or a model.pt of ours (utils/stages/init_weights.py).

    python train2D.py model_2D_prediction=Hourglass
    python train2D.py pose2d.vitpose_preset=B pose2d.init=pretrained/mae_pretrain_vit_base.pth
    torchrun --nproc_per_node=4 train2D.py profile=paper
"""
from __future__ import annotations

import logging

import torch

from config import MODELS_2D, to_dict
from dataloader.loaders import make_loader
from dataloader.reader import load_human36m
from models.registry import pose2d_init_file, pose2d_setting_key
from utils.stages import estimator, init_weights
from utils.engine import layout, runtime
from utils.engine.cli import run, setup
from utils.engine.training import Trainer, fit

logger = logging.getLogger("train2D")


def main(argv):
    cfg, _, device = setup(argv)
    name = cfg.model_2D_prediction
    if name not in MODELS_2D:
        raise SystemExit(f"train2D.py trains a 2D estimator: model_2D_prediction must be one of {', '.join(MODELS_2D)}, "
                         f"got {name!r} (the probabilistic estimator is train2D_prob_pose.py)")
    run_dir = layout.pose2d_dir(cfg, name)
    data = load_human36m(cfg.data_root, cfg.data.frame_template,
                         subjects=list(cfg.data.train_subjects) + list(cfg.data.test_subjects),
                         actions=cfg.data.actions or None)
    model, kwargs = estimator.build_estimator(cfg, name)
    init = pose2d_init_file(cfg, name)
    if init is not None:  # pose2d.init / pose2d.hourglass_init: an official file or one of ours (resume overrides it)
        key = f"pose2d.{pose2d_setting_key(cfg, name, 'init')}"
        report = init_weights.initialise(model, kwargs, init, key=key)
        if report.heatmap_peak:  # a TIC-TAC pose network: heatmaps of peak prob.heatmap_peak → this stage's peak 1
            estimator.scale_heatmap_output(model, 1.0 / report.heatmap_peak)
            logger.info("%s: heatmaps scaled ×1/%g from the TIC-TAC run's prob.heatmap_peak", key, report.heatmap_peak)
    train_set, val_set = estimator.build_datasets(cfg, data, model, cfg.seed, name)
    c = cfg.pose2d
    train_loader = make_loader(train_set, batch_size=estimator.batch_size_of(cfg, name), shuffle=True,
                               num_workers=cfg.data.num_workers, seed=cfg.seed, drop_last=True, device=device)
    model = estimator.place(model, name, cfg, device)
    optimizer = estimator.build_optimizer(cfg, model, name)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, estimator.warmup_step_lambda(c.warmup_iters, len(train_loader), list(c.lr_steps), c.lr_schedule,
                                                estimator.epochs_of(cfg, name)))
    if cfg.runtime.compile:
        model = torch.compile(model)
    trainer = Trainer(
        model=runtime.wrap_ddp(model, device), model_name=name, model_kwargs=kwargs, optimizer=optimizer,
        scheduler=scheduler, scheduler_per_step=True, train_loader=train_loader,
        val_loader=make_loader(val_set, batch_size=c.batch_size, shuffle=False, num_workers=cfg.data.num_workers,
                               seed=cfg.seed, device=device),
        train_step=estimator.train_step, eval_step=estimator.make_eval_step(cfg.predict.flip_test),
        run_dir=run_dir, config=to_dict(cfg), epochs=estimator.epochs_of(cfg, name), device=device, amp=cfg.runtime.amp,
        grad_clip=c.grad_clip, resume=cfg.resume, desc=name, on_epoch_start=train_set.set_epoch,
    )
    metrics = fit(trainer)
    if metrics:
        logger.info("%s: validation PCK@0.1 %.3f, 2D error %.2f px", name, metrics["val_pck10"], metrics["val_error_px"])


if __name__ == "__main__":
    run(main, reads=("model_2D_prediction", "resume", "data", "runtime", "pose2d", "predict"))
