"""The framework's library: everything the stage scripts share, one concept per subpackage.

- ``utils.codecs``: coordinate codecs (full frame ↔ crop ↔ heatmap, flips);
- ``utils.prob``: the TIC-TAC maths (covariance parameterisations and losses, TIC, TAC, log-likelihood);
- ``utils.engine``: running a stage (command line, devices and DDP, training loop, checkpoints, run layout);
- ``utils.stages``: what each stage script builds (2D, probabilistic 2D, lifting, action; evaluation);
- ``utils.study``: the study's bookkeeping (stage plan, seeds, baselines, comparison, tables, report, README);
- ``utils.metrics``, ``utils.artifact``, ``utils.visualisation``: metrics, the 2D prediction artifact, figures.

Imports flow one way: stage scripts → ``stages``/``study`` → ``models``/``dataloader`` → ``codecs``, ``prob``,
``engine``, ``metrics``, ``artifact``. Nothing here imports a stage script (tests/test_imports.py checks it).
"""
