"""The maths of TIC-TAC (Shukla, Salzmann, Alahi, ICML 2024; ``vita-epfl/TIC-TAC``): ``covariance`` (the
covariance parameterisations and losses of every method, checks, Gaussian sampling), ``tic`` (Taylor Induced
Covariance: the Jacobian of the pose decoder) and ``tac`` (Task Agnostic Correlations, log-likelihood,
calibration).

Pure torch functions, shape legend B batch, J joints, D = 2J coordinates. May import torch and each other;
nothing else of the project (the models in ``models/tictac`` import these, not the other way round).
"""
