"""The stage graph of study.py (utils/study/plan.py: stage_graph): which stage waits for which, from the configuration."""
from config import load_config
from utils.study.plan import COMPARISON, MATCHED, stage_graph

SOURCES = ["compare.sources=[GroundTruth, Hourglass, ViTPose, Probabilistic, ProbabilisticMean]",
           "compare.action_sources=[GroundTruth, Probabilistic]", "compare.noise_stds=[0.01]", "compare.uncertainty_comparison=[]"]


def _graph(*overrides):
    overrides = list(overrides)
    return stage_graph(load_config(overrides), overrides)


def _in_order(graph):
    seen = set()
    for stage, needs in graph.items():
        assert set(needs) <= seen, f"{stage} comes before {set(needs) - seen}"
        seen.add(stage)


def test_every_stage_waits_for_what_writes_its_inputs():
    graph = _graph("prob.init=pose2d", *SOURCES)
    _in_order(graph)
    assert graph["data"] == [] and graph["inspect"] == ["data"]
    for model in ("Hourglass", "ViTPose"):
        assert graph[f"train 2D {model}"] == ["inspect"]
        assert graph[f"predict 2D {model}"] == [f"train 2D {model}"]
    assert graph["train TIC-TAC ViTPose"] == ["inspect", "train 2D ViTPose"]  # prob.init=pose2d starts from it
    assert graph["predict 2D Probabilistic"] == ["train TIC-TAC ViTPose"]
    # a downstream model trains as soon as its own 2D exists: the ground truth's right after inspect
    assert graph["train GraphMLP on GroundTruth"] == ["inspect"]
    assert graph["train GraphMLP on GroundTruth_noise0.01"] == ["inspect"]
    assert graph["train GraphMLP on Hourglass"] == ["predict 2D Hourglass"]
    assert graph["train GraphMLP on ProbabilisticMean"] == ["predict 2D Probabilistic"]
    assert graph["train SkateFormer on Probabilistic"] == ["predict 2D Probabilistic"]
    # its evaluations wait for it and for the 2D of every column (ProbabilisticMean evaluates as Probabilistic)
    every_2d = ["inspect", "predict 2D Hourglass", "predict 2D ViTPose", "predict 2D Probabilistic"]
    assert graph["evaluate GraphMLP on ViTPose"] == ["train GraphMLP on ViTPose"] + every_2d
    assert graph["evaluate SkateFormer on GroundTruth"] == ["train SkateFormer on GroundTruth", "inspect",
                                                             "predict 2D Probabilistic"]
    downstream = [s for s in graph if s.startswith(("train GraphMLP", "train SkateFormer", "evaluate "))]
    assert len(downstream) == 2 * (5 + 1 + 2)  # 5 lifting sources + 1 noise level + 2 action sources
    assert set(downstream) <= set(graph[COMPARISON])
    # the other figures wait only for the evaluations they draw, not for the tables
    assert graph["figures"] == ["predict 2D Probabilistic", "evaluate GraphMLP on GroundTruth"]
    assert graph["figures Probabilistic 3D"] == ["evaluate GraphMLP on Probabilistic"]
    assert COMPARISON not in graph["figures"] + graph["figures Probabilistic 3D"]
    # the 2D estimators' figures only wait for their predictions, not for the probabilistic stages
    assert graph["figures 2D"] == ["predict 2D Hourglass", "predict 2D ViTPose"]
    # the matched noise level's row (known once the Probabilistic 2D exists) trains beside the other rows
    assert graph[MATCHED] == ["predict 2D Probabilistic", "inspect", "predict 2D Hourglass", "predict 2D ViTPose"]
    assert MATCHED in graph[COMPARISON]
    assert MATCHED not in _graph(*SOURCES, "compare.matched_noise=false")
    # the independent ones: nothing between the lifters of two sources, nor between the 2D estimators
    assert "train GraphMLP on ViTPose" not in graph["train GraphMLP on Hourglass"]
    assert "train 2D Hourglass" not in graph["train 2D ViTPose"]


def test_random_init_tic_tac_waits_for_no_2d_model():
    graph = _graph("prob.init=", "model_prob_pose=Hourglass", *SOURCES)
    assert graph["train TIC-TAC Hourglass"] == ["inspect"]
    assert graph["predict 2D Probabilistic"] == ["train TIC-TAC Hourglass"]


def test_real_data_has_no_data_stage():
    graph = _graph("data.root=data/human36m")
    assert "data" not in graph and graph["inspect"] == []


def test_seeds_share_the_data_and_wait_within_their_own_run():
    graph = _graph("seeds=0,1", *SOURCES)
    _in_order(graph)
    assert [s for s in graph if "seed" not in s] == ["data", "inspect"]
    for k in (0, 1):
        assert graph[f"train 2D ViTPose (seed {k})"] == ["inspect"]
        assert graph[f"predict 2D ViTPose (seed {k})"] == [f"train 2D ViTPose (seed {k})"]
        assert graph[f"train GraphMLP on Probabilistic (seed {k})"] == [f"predict 2D Probabilistic (seed {k})"]
        assert graph[f"figures (seed {k})"] == [f"predict 2D Probabilistic (seed {k})",
                                                f"evaluate GraphMLP on GroundTruth (seed {k})"]
        assert all(n in ("data", "inspect") or n.endswith(f"(seed {k})")
                   for s, needs in graph.items() if s.endswith(f"(seed {k})") for n in needs)


def test_prob_pretrain_inserts_a_pretraining_stage_the_tictac_stage_fine_tunes_from():
    from utils.engine import layout
    from utils.study.plan import plan

    overrides = ["prob.pretrain=mpii", "prob.pretrain_epochs=7", "pose2d.init=pretrained/mae.pth", *SOURCES]
    cfg = load_config(overrides)
    stages = {s.label: s for s in plan(cfg, overrides)}
    pretrain, tictac = stages["pretrain TIC-TAC ViTPose on mpii"], stages["train TIC-TAC ViTPose"]
    assert pretrain.needs == ["inspect"] and tictac.needs == ["inspect", pretrain.label]
    # the pre-training run: MPII, its own epochs, from pose2d.init's file (prob.init is pose2d: this run's
    # Human3.6M model comes later), in its own folder next to the Human3.6M run
    assert pretrain.commands == [("train2D_prob_pose.py", ["data.dataset=mpii", "prob.epochs=7",
                                                           "prob.init=pretrained/mae.pth"])]
    assert pretrain.outputs[0] == cfg.run_dir / "2d" / "Probabilistic_ViTPose_mpii" / "last.pt"
    assert layout.prob_dir(cfg, "ViTPose") == cfg.run_dir / "2d" / "Probabilistic_ViTPose"
    # the Human3.6M run fine-tunes from its last.pt, and is stale when that is newer
    assert tictac.commands == [("train2D_prob_pose.py", [f"prob.init={pretrain.outputs[0]}"])]
    assert pretrain.outputs[0] in tictac.inputs
    assert "pretrain TIC-TAC ViTPose on mpii" not in _graph(*SOURCES)


def test_figures_of_a_source_left_out_wait_for_the_tables():
    """Without the Probabilistic lifter the figures that draw it come after the comparison (which names what is
    missing), not before an evaluation that never runs."""
    rest = ["compare.action_sources=[ViTPose]", "compare.matched_noise=false", "compare.uncertainty_comparison=[]"]
    graph = _graph("compare.sources=[GroundTruth, ViTPose]", *rest)
    assert graph["figures"] == ["predict 2D Probabilistic", "evaluate GraphMLP on GroundTruth"]
    assert graph["figures Probabilistic 3D"] == [COMPARISON]
    graph = _graph("compare.sources=[ViTPose, Probabilistic]", *rest)
    assert graph["figures"] == [COMPARISON]
    assert graph["figures Probabilistic 3D"] == ["evaluate GraphMLP on Probabilistic"]
