"""The notebook runner stops at the first failing notebook and names it; the report shows every output."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest

from fer_lib import outputs
from fer_lib.study.report import build_report
from fer_lib.study.reproduce import numbered_notebooks, run_notebooks


def _notebook(path, source: str, parameters: str = "profile = 'smoke'") -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_runner_orders_runs_and_stops_at_first_failure(tmp_path, capsys):
    books = tmp_path / "notebooks"
    books.mkdir()
    _notebook(books / "02_fails.ipynb", "raise RuntimeError('boom')")
    _notebook(books / "01_ok.ipynb", "open('ran_01.txt', 'w').write(profile)")
    _notebook(books / "03_never.ipynb", "open('ran_03.txt', 'w').write('x')")
    assert [b.stem for b in numbered_notebooks(notebook_dir=books)] == ["01_ok", "02_fails", "03_never"]

    status = run_notebooks(profile="smoke", notebook_dir=books, build_report=False)

    assert status == 1
    assert "02_fails.ipynb" in capsys.readouterr().err
    assert (books / "ran_01.txt").read_text() == "smoke"  # the parameter reached the notebook
    assert not (books / "ran_03.txt").exists()            # nothing after the failure ran


def test_runner_rejects_unknown_selection(tmp_path):
    books = tmp_path / "notebooks"
    books.mkdir()
    _notebook(books / "01_ok.ipynb", "pass")
    with pytest.raises(ValueError, match="01_ok"):
        numbered_notebooks(["99"], notebook_dir=books)


def test_report_shows_tables_figures_and_manifests(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outputs.save_table(pd.DataFrame({"claim": ["P3-acc"], "verdict": ["not reproduced"]}), "12_comparison", "verdicts")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    outputs.save_figure(fig, "03_resnet50_fer2013", "curves")
    outputs.save_note("03_resnet50_fer2013", "Ran on synthetic data.")
    run = outputs.results_dir() / "runs" / "p3" / "r1"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"run_id": "r1"}))
    outputs.record_runs("03_resnet50_fer2013", [run])

    page = build_report().read_text()

    assert page.index("not reproduced") < page.index("curves.png")  # verdicts lead the report
    assert 'src="03_resnet50_fer2013/curves.png"' in page
    assert 'href="runs/p3/r1/manifest.json"' in page
    assert "Ran on synthetic data." in page
    assert "Not generated yet" in page  # sections without outputs say so
    assert (outputs.results_dir() / "index.md").read_text().count("verdicts.csv") == 1


def test_verdicts_render_as_a_dashboard_with_badges():
    from fer_lib.study import verdicts
    from fer_lib.study.measure import ModelMeasurer
    from fer_lib.outputs import save_table
    from fer_lib.study.report import build_report

    table = verdicts.claims_table(ModelMeasurer(measure_speed=False), runs=[])
    save_table(table.drop(columns=["runs"]), "12_comparison", "verdicts")
    html = build_report().read_text()
    assert 'class="badge v-consistent-by-construction"' in html and 'class="badge v-not-run"' in html
    assert "23,185,251" in html and "3400000.000" not in html
