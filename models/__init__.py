"""The networks, with the official parameter names so official checkpoints load strictly: the 2D estimators
(``vit_pose``, ``stacked_hourglass``, their common interface ``pose2d``), TIC-TAC (``tictac``) and the downstream
models (``GraphMLP``, ``SkateFormer``). May import ``dataloader.h36m``, ``utils.codecs`` and ``utils.prob``.
"""
