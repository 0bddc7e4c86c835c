"""The record and the scratch space are separate: synthetic-data runs and pipeline checks never write into
results/; the record's report never embeds a figure that is kept out of git."""

from __future__ import annotations

import os

import pytest
from pathlib import Path

from fer_lib.config import load_config
from fer_lib.outputs import save_figure, shows_dataset_images
from fer_lib.paths import record_dir, results_dir, runs_dir_for, scratch_dir
from fer_lib.study.report import LOCAL_ONLY, build_report
from fer_lib.study.reproduce import output_plan
from fer_lib.engine.experiment import run_experiment


def test_where_each_kind_of_output_goes(monkeypatch):
    assert results_dir() == record_dir() and runs_dir_for("fer2013") == record_dir() / "runs"
    assert runs_dir_for("synthetic") == scratch_dir() / "runs"
    monkeypatch.setenv("FER_OUTPUT", "scratch")
    assert results_dir() == scratch_dir() and runs_dir_for("fer2013") == scratch_dir() / "runs"
    assert output_plan("smoke", record=False) == ("scratch", True)
    assert output_plan("full", record=False) == ("record", True)
    assert output_plan("smoke", record=True) == ("record", False)


def test_a_synthetic_run_lands_in_scratch_and_a_pipeline_check_keeps_only_best(monkeypatch):
    cfg = load_config("p3_resnet50_weighted", "smoke", {"model.name": "tiny_cnn", "model.options": {"width": 8},
                                                        "evaluate.bootstrap": 20})
    run = run_experiment(cfg, seed=0, device="cpu")
    assert run.is_relative_to(scratch_dir()) and not list(record_dir().rglob("manifest.json"))
    assert (run / "checkpoints" / "last.pt").exists()  # outside a pipeline check a run keeps both
    monkeypatch.setenv("FER_OUTPUT", "scratch")
    check = run_experiment(cfg, seed=0, device="cpu")
    assert (check / "checkpoints" / "best.pt").exists() and not (check / "checkpoints" / "last.pt").exists()
    import torch

    from fer_lib.engine.evaluate import evaluate_run
    from fer_lib.runs.store import load_run

    state = torch.load(check / "checkpoints" / "best.pt", weights_only=False)["model_state"]
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.bfloat16}
    assert evaluate_run(check, splits=["test"], write=False)["test"] == load_run(check).metrics["test"]


def test_record_report_shows_local_only_figures_as_text_and_scratch_report_is_labelled(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for section in ("04_swin_se_resnet",):
        fig, _ = plt.subplots()
        save_figure(fig, section, "p1_fer2013_misclassified_test")
        fig, _ = plt.subplots()
        save_figure(fig, section, "p1_fer2013_curves")
        plt.close("all")
    html = build_report().read_text()
    assert "p1_fer2013_curves.png" in html and "misclassified_test.png" not in html and LOCAL_ONLY in html
    assert "PIPELINE CHECK" not in html
    assert shows_dataset_images(Path("samples_rafdb.png")) and not shows_dataset_images(Path("samples_synthetic.png"))
    monkeypatch.setenv("FER_OUTPUT", "scratch")
    scratch_html = build_report().read_text()
    assert "PIPELINE CHECK" in scratch_html and build_report().parent == scratch_dir()
    assert os.environ["FER_SCRATCH_DIR"] in str(build_report())


def test_portable_text_drops_absolute_folders_but_keeps_urls_and_tags():
    from fer_lib.outputs import portable

    text = "<td>/work/a/b.npz</td> x=/srv/c/d.csv <br/> see http://x.org/a/b/ and ../shared/data/x.npz"
    assert portable(text) == ("<td><dir>/b.npz</td> x=<dir>/d.csv <br/> see http://x.org/a/b/ and "
                              "../shared/data/x.npz")


def test_executed_notebooks_are_written_without_paths_times_or_random_ids(tmp_path):
    import nbformat

    from fer_lib.outputs import portable_notebook

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("data_dir = '/work/x/data'")
    cell.metadata["execution"] = {"iopub.execute_input": "2026-12-01T21:16:25Z"}
    cell.metadata["papermill"] = {"duration": 0.1, "start_time": "t", "end_time": "t", "status": "completed"}
    cell.outputs = [nbformat.v4.new_output("execute_result", {
        "text/html": '<table id="T_99899"><td>/srv/a/b.npz</td></table>',
        "text/plain": "<pandas.io.formats.style.Styler at 0x7f5568cfbd90>"}, execution_count=1)]
    nb.cells = [cell]
    nb.metadata["papermill"] = {"input_path": "/work/main/notebooks/x.ipynb", "start_time": "t", "duration": 1.0}
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, str(path))
    portable_notebook(path)
    text = path.read_text()
    for gone in ("/work/", "/srv/", "T_99899", "0x7f", "start_time", "duration", "iopub"):
        assert gone not in text, gone
    assert '"id": "cell-000"' in text and "<dir>/b.npz" in text and '"status": "completed"' in text


def test_a_clone_without_the_local_only_figures_builds_the_same_report():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    path = save_figure(fig, "08_analysis", "gradcam_p2")
    plt.close(fig)
    notebook = results_dir() / "notebooks" / "08_analysis.ipynb"
    notebook.parent.mkdir(parents=True, exist_ok=True)
    notebook.write_text("{}")
    here = build_report().read_text()
    path.unlink()  # what a clone lacks: the figure is git-ignored, its name is in local_only.json
    notebook.unlink()  # and the executed notebook that embeds dataset images
    assert build_report().read_text() == here and "Gradcam p2" in here and "kept local" in here


def test_real_smoke_profile_is_the_full_recipe_on_a_small_real_subset():
    full = load_config("p3_resnet50_weighted", "full")
    real = load_config("p3_resnet50_weighted", "real-smoke")
    assert real["profile"] == "real-smoke" and real["data"]["dataset"] == full["data"]["dataset"] == "fer2013"
    assert real["data"]["splits"] == full["data"]["splits"] and real["optim"] == full["optim"]
    assert real["train"]["epochs"] == 2 and real["data"]["max_samples"]["train"] == 512
    assert runs_dir_for("fer2013", "real-smoke") == scratch_dir() / "runs"
    assert runs_dir_for("fer2013", "full") == record_dir() / "runs"


@pytest.mark.real_data
def test_a_real_smoke_run_trains_on_real_images_into_scratch(real_data_dir):
    cfg = load_config("p3_resnet50_weighted", "real-smoke", {"model.name": "tiny_cnn", "model.options": {"width": 8},
                                                             "train.epochs": 1})
    run = run_experiment(cfg, data_dir=real_data_dir, seed=0, device="cpu")
    from fer_lib.runs.store import load_run

    manifest = load_run(run).manifest
    assert run.is_relative_to(scratch_dir()) and manifest["dataset"]["real"] and manifest["profile"] == "real-smoke"
    assert manifest["split_sizes"]["train"] == 512 and not list(record_dir().rglob("manifest.json"))


def test_what_the_report_treats_as_local_only_is_what_git_ignores():
    """outputs' lists of figures and notebooks that show dataset images agree with .gitignore."""
    import subprocess

    from fer_lib.outputs import DATASET_IMAGE_FIGURES, LOCAL_ONLY_NOTEBOOKS

    repo = Path(__file__).resolve().parent.parent
    examples = [f"results/04_swin_se_resnet/{pattern.replace('*', 'x')}" for pattern in DATASET_IMAGE_FIGURES]
    examples += [f"results/notebooks/{name}.ipynb" for name in LOCAL_ONLY_NOTEBOOKS]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *examples], cwd=repo, capture_output=True,
                             text=True).stdout.split()
    assert sorted(ignored) == sorted(examples)
    assert shows_dataset_images(Path(examples[0])) and not shows_dataset_images(Path("x/curves.png"))


def test_no_committed_result_holds_an_absolute_path():
    """Every text file git tracks under results/ is free of the absolute folders of the machine it came from."""
    import re
    import subprocess

    repo = Path(__file__).resolve().parent.parent
    tracked = subprocess.run(["git", "ls-files", "results"], cwd=repo, capture_output=True, text=True).stdout.split()
    absolute = re.compile(r"(?<![\w<.:/])/(?:work|root|home|tmp|Users|mnt|opt|srv|var)/[\w.-]+")
    found = []
    for name in tracked:
        path = repo / name
        if path.suffix.lower() in (".png", ".jpg", ".pt") or not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        found += [f"{name}: {m.group(0)}" for m in absolute.finditer(text)][:3]
    assert found == []


def test_a_record_rebuild_note_says_it_trained_nothing_not_the_smoke_profile():
    """`make record` runs the notebooks at the default profile with train=False: their notes must not call the
    record's real-data runs a smoke pipeline check, nor state the smoke budget that never applied."""
    from fer_lib.study.notes import runs_note, write_note
    from fer_lib.study.setup import setup_notebook

    rebuilt = write_note("99_note_check", profile="smoke", train=False).read_text()
    assert rebuilt.startswith("**Record rebuilt**") and "synthetic" not in rebuilt and "smoke" not in rebuilt
    trained = write_note("99_note_check", profile="smoke", train=True).read_text()
    assert trained.startswith("**Profile** `smoke`: embedded synthetic data")
    assert runs_note([], "smoke", train=False).startswith("**Record rebuilt**")
    assert runs_note([], "full").startswith("Profile `full`.")
    assert setup_notebook(profile="smoke", train=False) is None
    assert setup_notebook(profile="smoke", train=True)["train.epochs"] >= 1
