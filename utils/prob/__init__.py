"""The maths of TIC-TAC (Shukla, Salzmann, Alahi, ICML 2024; ``vita-epfl/TIC-TAC``): ``covariance`` (the
covariance parameterisations and losses of every method, checks, Gaussian sampling), ``tic`` (Taylor Induced
Covariance: the Jacobian of the pose decoder) and ``tac`` (Task Agnostic Correlations, log-likelihood,
calibration).

"Official TIC-TAC" in these modules means ``vita-epfl/TIC-TAC: HumanPose/code/`` (``loss.py``,
``utils/tic.py``, ``utils/pose.py``, ``models/``); "the original study" is
``Valen12Co/downstream_performance_comparison``, whose copies of them this framework replaces.

Pure torch functions, shape legend B batch, J joints, D = 2J coordinates. May import torch and each other;
nothing else of the project (the models in ``models/tictac`` import these, not the other way round).
"""
