"""The notebooks' shared steps: Grad-CAM on the token-layout models, paper columns, a run's own images."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from fer_lib import study as steps
from fer_lib.study.analysis import entropy_by_class, gradcam_maps, max_entropy
from fer_lib.models import create_model
from fer_lib.paths import results_dir
from fer_lib.plots import plot_bubbles


@pytest.mark.parametrize("name, options", [("swin_spst_ema", {"spst_stage": 4, "ema_after": 2}),
                                           ("swin_spst_ema", {}), ("swin_se_resnet", {})])
def test_gradcam_on_swin_models_is_one_map_per_image_at_input_size(name, options):
    torch.manual_seed(0)
    model = create_model(name, num_classes=7, **options).eval()
    cam = gradcam_maps(model, torch.randn(1, 3, 224, 224), targets=[3])
    assert cam.shape == (1, 224, 224)
    assert np.isfinite(cam).all() and cam.min() >= 0 and cam.max() <= 1 + 1e-6
    table = entropy_by_class(cam, np.array([3]), [f"c{k}" for k in range(7)])
    assert 0 <= table.loc[3, "entropy"] <= max_entropy(224, 224) + 1e-9 and table.loc[3, "n"] == 1


def _fake_run(experiment: str, dataset: str, real: bool, accuracy: float, stamp: str, profile: str = "full",
              seed: int = 0, epochs: int = 150, epochs_run: int = 3, device: str = "cpu", precision: str = "float32",
              img_per_s: float = 1.0, epoch_s: tuple[float, ...] = (2.0, 4.0, 3.0)):
    path = results_dir() / "runs" / experiment / f"{stamp}-{profile}-{dataset}-s{seed}"
    path.mkdir(parents=True)
    manifest = {"experiment": experiment, "run_id": path.name, "paper": "P2", "profile": profile, "status": "complete",
                "dataset": {"name": dataset, "real": real, "class_names": ["Angry"]}, "seed": seed, "epochs": epochs,
                "epochs_run": epochs_run, "recipe_epochs": 150, "started": stamp, "device": device,
                "precision": precision, "train_img_per_s": img_per_s, "num_params": 1000,
                "config": {"model": {"name": "lc2fer_c5"}}}
    (path / "manifest.json").write_text(json.dumps(manifest))
    (path / "metrics.json").write_text(json.dumps({"test": {"accuracy": accuracy, "f1_weighted": accuracy}}))
    (path / "history.csv").write_text("epoch,epoch_s\n" + "".join(f"{i},{t}\n" for i, t in enumerate(epoch_s, 1)))
    return path


def test_paper_columns_headline_and_grid():
    _fake_run("p2_lc2fer_c5", "synthetic", False, 0.9, "20260101-000000", "smoke")
    real = _fake_run("p2_lc2fer_c5", "rafdb", True, 0.5, "20250101-000000")
    table = steps.compare_with_paper(["p2_lc2fer_c5", "p2_lc2fer_c6"])
    row = table[table["dataset"] == "rafdb"].iloc[0]
    assert row["accuracy %"] == "50.00" and row["comparable"] == "yes"
    assert row["paper accuracy %"] == steps.paper_values("p2_lc2fer_c5")["accuracy"]  # from claims.yaml
    assert table[table["dataset"].str.contains("embedded")].iloc[0]["comparable"].startswith("no")
    assert table[table["experiment"] == "p2_lc2fer_c6"].iloc[0]["dataset"] == "no complete run"
    best = steps.headline("p2_lc2fer_c5")
    assert best["real"] and best["latest"] == real and best["accuracy"] == pytest.approx(50.0)  # real beats newer synthetic
    bubbles = steps.epoch_time_table({"C5": "p2_lc2fer_c5", "C6": "p2_lc2fer_c6"})
    assert bubbles.loc[0, "median epoch s"] == 3.0 and bubbles.loc[0, "params"] == 1000
    assert bubbles.loc[0, "timed on"] == "cpu, fp32"  # device and precision (and a CPU's instruction set) of the timing
    assert bubbles.loc[1, "data"] == "no complete run"  # C6 has no run: its paper value still shows
    assert bubbles.loc[1, "paper accuracy %"] == steps.paper_values("p2_lc2fer_c6")["accuracy"]
    wide = steps.grid_wide(steps.grid_table({"C5": {"rafdb": "p2_lc2fer_c5"}, "C6": {"rafdb": "p2_lc2fer_c6"}}))
    assert wide.loc[0, "rafdb ours"] == "50.00" and wide.loc[1, "rafdb ours"] == "-"
    _fake_run("p2_lc2fer_c6", "rafdb", True, 0.4, "20250102-000000", epochs=5, epochs_run=5)
    short = steps.compare_with_paper(["p2_lc2fer_c6"]).iloc[0]
    assert short["comparable"] == "no: reduced budget (5 allowed / 150 recipe)"


def test_epoch_time_pools_only_the_runs_timed_like_the_newest():
    """n counts every seed behind the accuracy; the epoch time pools only the seeds timed where the newest was."""
    for seed, device, epoch_s in ((0, "AMD EPYC", (10.0,)), (1, "Intel Xeon", (30.0, 50.0)), (2, "Intel Xeon", (20.0,)),
                                  (3, "Intel Xeon", ())):
        _fake_run("p2_lc2fer_c5", "rafdb", True, 0.5, f"2025010{seed + 1}-000000", seed=seed, device=device,
                  epoch_s=epoch_s)
    row = steps.epoch_time_table({"C5": "p2_lc2fer_c5"}).iloc[0]
    assert row["n"] == 4 and row["timed runs"] == 2 and row["timed on"].startswith("Intel Xeon")
    assert row["median epoch s"] == 30.0  # median of the Intel runs' medians (40, 20); EPYC's 10 s and the untimed out


def test_summary_pools_one_budget_however_long_each_run_ran():
    """Early stopping ends seeds at different epochs: they still pool (n = 3) at their shared budget, each
    device named; a shorter budget or another precision is a group of its own."""
    for seed, ran, device, speed in ((0, 22, "AMD EPYC", 50.0), (1, 30, "AMD EPYC", 60.0), (2, 24, "Intel Xeon", 90.0)):
        _fake_run("p2_lc2fer_c5", "rafdb", True, 0.5 + seed / 100, f"2025010{3 - seed}-000000", seed=seed,
                  epochs_run=ran, device=device, precision="bfloat16", img_per_s=speed)   # seed 2 finished first
    for seed, speed in ((0, 40.0), (1, 46.0)):
        _fake_run("p2_lc2fer_c5", "rafdb", True, 0.3, f"2025010{5 + seed}-000000", seed=seed, epochs=5, epochs_run=5,
                  img_per_s=speed)
    _fake_run("p2_lc2fer_c5", "rafdb", True, 0.4, "20250106-000000", seed=0, epochs_run=40)
    table = steps.summary_table(["p2_lc2fer_c5"]).set_index(["budget", "precision"])
    full = table.loc[("150 allowed / 150 recipe", "bf16")]
    assert (full["n"], full["seeds"], full["epochs run"]) == (3, "0,1,2", "22, 30, 24")
    assert full["accuracy %"] == "51.00 ± 1.00" and full["device"] == "AMD EPYC; Intel Xeon"  # in seed order
    fp32 = table.loc[("150 allowed / 150 recipe", "fp32")]
    assert (fp32["n"], fp32["epochs run"], fp32["accuracy %"]) == (1, "40", "40.00")
    assert full["train img/s"] == "50.0 · 60.0 · 90.0 (2 conditions)"  # no median across machines
    short = table.loc[("5 allowed / 150 recipe", "fp32")]
    assert (short["n"], short["accuracy %"], short["train img/s"]) == (2, "30.00 ± 0.00", "43.0")  # one condition
    assert steps.compare_with_paper(["p2_lc2fer_c5"]).set_index("budget").loc["5 allowed / 150 recipe", "comparable"] \
        .startswith("no: reduced budget")


def test_run_images_rebuilt_from_the_manifest_and_cross_dataset(tmp_path):
    from fer_lib.config import load_config
    from fer_lib.study.cross_dataset import cross_dataset_table
    from fer_lib.engine.experiment import run_experiment

    cfg = load_config("p3_resnet50_weighted", "smoke", overrides={
        "model.name": "tiny_cnn", "model.options": {}, "evaluate.bootstrap": 10,
        **steps.smoke_overrides("smoke", train=14, val=7, test=7, batch_size=7)})
    run_dir = run_experiment(cfg, seed=0, device="cpu", out_root=tmp_path)
    data = steps.split_predictions(run_dir, "test")
    assert len(data["images"]) == len(data["labels"]) == 7 and data["probs"].shape == (7, 7)
    assert steps.misclassified_figure(run_dir, short=True) is not None
    table = cross_dataset_table([run_dir], ["synthetic", "jaffe"], data_dir=tmp_path / "nothing", max_per_set=5)
    own, missing = table.iloc[0], table.iloc[1]
    assert own["status"] == "ok" and own["test images"] == "the run's own test split" and own["n"] == 5
    assert missing["status"].startswith("not available")


def test_bubble_chart_gives_each_timing_condition_its_own_colour():
    """Epoch times from two machines or precisions are not one scale: the chart colours them apart, with a legend."""
    table = pd.DataFrame({"label": ["C1", "C2", "C3"], "median epoch s": [121.0, 195.0, 420.0],
                          "accuracy %": [68.4, 70.1, 69.0], "params": [3.4e6, 1.9e6, 7.5e6],
                          "timed on": ["Xeon (2 threads), avx512+bf16, bf16", "Xeon (2 threads), avx512, fp32",
                                       "Xeon (2 threads), avx512, fp32"]})
    ax = plot_bubbles(table, group="timed on").axes[0]
    assert [len(c.get_offsets()) for c in ax.collections] == [1, 2]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(dict.fromkeys(table["timed on"]))
    one = plot_bubbles(table.iloc[1:], group="timed on").axes[0]
    assert len(one.collections) == 1 and one.get_legend() is None
