"""Stage 3: train the downstream model `model_3D_prediction` on the 2D source `model_2D_prediction`.

GraphMLP (2D → 3D lifting): MPJPE loss, flip augmentation, validation MPJPE per epoch with flip
test-time averaging. SkateFormer (action recognition): label-smoothed cross-entropy, one run per
split (X-sub, X-view). A Probabilistic source draws fresh samples of N(mean, Σ) every time a frame is
used, laid out along each window by `lifting.sample_mode` / `action.sample_mode` (frame | window | ar1);
ProbabilisticMean trains on its means alone; GroundTruthCov (GroundTruth+Σ) on the ground truth plus
fresh N(0, Σ) draws of the same covariances; `noise_std` adds isotropic Gaussian noise to the source
(the study's noise baseline). `lifting.input` / `action.input` = xy+conf or xy+cov add each joint's 2D
uncertainty as input channels (a run of its own: 3d/<model>_<source>_xy_conf or _xy_cov). The validation 2D of a stochastic source is its means (Probabilistic) or
one fixed draw per frame (GroundTruthCov), as the evaluation reads it.

    python main.py model_3D_prediction=GraphMLP model_2D_prediction=Probabilistic lifting.sample_mode=window
    python main.py model_2D_prediction=GroundTruthCov
    python main.py model_2D_prediction=GroundTruth noise_std=0.01
    python main.py model_2D_prediction=ProbabilisticMean lifting.input=xy+cov
"""
from __future__ import annotations

import logging

import torch

from config import to_dict
from dataloader.action_dataset import ActionClipDataset, split_keys
from dataloader.lifting_dataset import LiftingDataset
from dataloader.loaders import make_loader
from dataloader.reader import load_human36m
from dataloader.sources import build_source
from utils.stages import downstream
from utils.engine import layout, runtime
from utils.engine.cli import run, setup
from utils.stages.downstream import sequence_keys
from utils.engine.training import Trainer, fit

logger = logging.getLogger("main")
def train_lifter(cfg, data, device, run_dir):
    c = cfg.lifting
    model, kwargs, frames = downstream.build_downstream(cfg)
    train_keys = sequence_keys(cfg, data, cfg.data.train_subjects)
    test_keys = sequence_keys(cfg, data, cfg.data.test_subjects)
    train_src = build_source(cfg, data, train_keys, cfg.model_2D_prediction, noise_std=cfg.noise_std)
    val_src = build_source(cfg, data, test_keys, cfg.model_2D_prediction, sample=False)
    train_set = LiftingDataset(data, train_keys, train_src, frames, stride=c.train_stride,
                               flip=c.flip_augmentation, seed=cfg.seed, input_mode=c.input,
                               uncertainty_dropout=c.uncertainty_dropout)
    val_set = LiftingDataset(data, test_keys, val_src, frames, stride=max(c.train_stride, 1), input_mode=c.input)
    model = runtime.wrap_ddp(model.to(device), device)
    optimizer = torch.optim.Adam(model.parameters(), lr=c.lr, amsgrad=True, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, downstream.graphmlp_lr_lambda(c.lr_decay, c.lr_halve_every))
    trainer = Trainer(
        model=model, model_name="GraphMLP", model_kwargs=kwargs, optimizer=optimizer, scheduler=scheduler,
        train_loader=make_loader(train_set, batch_size=c.batch_size, shuffle=True, num_workers=cfg.data.num_workers,
                                 seed=cfg.seed, drop_last=True, device=device),
        val_loader=make_loader(val_set, batch_size=cfg.evaluate.batch_size, shuffle=False,
                               num_workers=cfg.data.num_workers, seed=cfg.seed, device=device),
        train_step=downstream.lifting_train_step, eval_step=downstream.make_lifting_eval_step(c.test_flip),
        run_dir=run_dir, config=to_dict(cfg), epochs=c.epochs, device=device, amp=cfg.runtime.amp,
        resume=cfg.resume, desc=f"GraphMLP[{run_dir.name}]", on_epoch_start=train_set.set_epoch,
    )
    return fit(trainer)


def train_action(cfg, data, device, run_dir, split):
    c = cfg.action
    model, kwargs, frames = downstream.build_downstream(cfg)
    keys = sequence_keys(cfg, data, list(cfg.data.train_subjects) + list(cfg.data.test_subjects))
    train_keys, test_keys = split_keys(keys, split, cfg.data.train_subjects, cfg.data.test_subjects)
    train_src = build_source(cfg, data, train_keys, cfg.model_2D_prediction, noise_std=cfg.noise_std)
    val_src = build_source(cfg, data, test_keys, cfg.model_2D_prediction, sample=False)
    train_set = ActionClipDataset(data, train_keys, train_src, frames, c.clip_stride, augment=True, seed=cfg.seed,
                                  input_mode=c.input, uncertainty_dropout=c.uncertainty_dropout)
    val_set = ActionClipDataset(data, test_keys, val_src, frames, c.clip_stride, input_mode=c.input)
    train_loader = make_loader(train_set, batch_size=c.batch_size, shuffle=True, num_workers=cfg.data.num_workers,
                               seed=cfg.seed, drop_last=True, device=device)
    model = runtime.wrap_ddp(model.to(device), device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=c.lr, weight_decay=c.weight_decay, fused=True)
    steps = len(train_loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, downstream.warmup_cosine_lambda(steps * c.epochs, steps * c.warmup_epochs))
    trainer = Trainer(
        model=model, model_name="SkateFormer", model_kwargs=kwargs, optimizer=optimizer, scheduler=scheduler,
        scheduler_per_step=True, train_loader=train_loader,
        val_loader=make_loader(val_set, batch_size=cfg.evaluate.batch_size, shuffle=False,
                               num_workers=cfg.data.num_workers, seed=cfg.seed, device=device),
        train_step=downstream.make_action_train_step(c.label_smoothing), eval_step=downstream.action_eval_step,
        run_dir=run_dir / split, config=to_dict(cfg), epochs=c.epochs, device=device, amp=cfg.runtime.amp,
        grad_clip=c.grad_clip, resume=cfg.resume, desc=f"SkateFormer[{run_dir.name}/{split}]",
        on_epoch_start=train_set.set_epoch, precise_bn_batches=c.precise_bn_batches,
    )
    return fit(trainer)


def main(argv):
    cfg, _, device = setup(argv)
    tag = layout.source_tag(cfg.model_2D_prediction, cfg.noise_std, downstream.input_mode(cfg))
    run_dir = layout.downstream_dir(cfg, cfg.model_3D_prediction, tag)
    data = load_human36m(cfg.data_root, cfg.data.frame_template,
                         subjects=list(cfg.data.train_subjects) + list(cfg.data.test_subjects),
                         actions=cfg.data.actions or None)
    if cfg.model_3D_prediction == "GraphMLP":
        metrics = train_lifter(cfg, data, device, run_dir)
        logger.info("GraphMLP on %s: validation MPJPE %.1f mm", tag, metrics.get("val_mpjpe_mm", float("nan")))
    else:
        for split in cfg.action.splits:
            metrics = train_action(cfg, data, device, run_dir, split)
            logger.info("SkateFormer on %s, %s: top-1 %.3f", tag, split, metrics.get("val_top1", float("nan")))


if __name__ == "__main__":
    run(main, reads=("model_2D_prediction", "model_3D_prediction", "noise_std", "resume", "data", "runtime", "lifting", "action",
                      "evaluate"))
