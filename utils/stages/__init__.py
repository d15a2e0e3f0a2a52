"""What each stage script builds, so the scripts stay a page long: ``estimator`` (train2D.py,
get2Dpredictions.py: the 2D models, heatmap loss, flip test, decoding to full-frame pixels), ``prob_estimator``
(train2D_prob_pose.py, get2Dpredictions_prob_pose.py: the TIC-TAC covariance methods side by side),
``downstream`` (main.py: GraphMLP lifting and SkateFormer action recognition builders, steps, schedules) and
``evaluation`` (get3Dprediction.py, compare.py: the downstream models on a 2D source).

May import ``models``, ``dataloader``, ``config`` and the lower parts of ``utils`` (codecs, prob, engine,
metrics, artifact); never a stage script or ``utils.study``.
"""
