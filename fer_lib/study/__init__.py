"""What the notebooks call: setup, training plans, tables, figures, notes — and, in submodules, verdicts,
comparisons, test-set checks, cross-dataset accuracy, analysis and the report.

The notebook-facing names are re-exported here so a notebook needs one import (`from fer_lib import study`).
"""

from __future__ import annotations

from fer_lib.bench.complexity_views import spst_table2
from fer_lib.engine.rebuild import load_trained_model, run_dataset, split_predictions, usable_run
from fer_lib.plots import plot_bubbles
from fer_lib.runs.select import complete_runs, latest_runs, speaking_runs, verdict_runs
from fer_lib.study import p4_layout
from fer_lib.study.figures import misclassified_figure, save_run_figures
from fer_lib.study.notes import runs_note, write_note
from fer_lib.study.plans import train_experiments, train_or_skip
from fer_lib.study.precision import precision_check, precision_runs
from fer_lib.study.recipes import cleaned_test_table, recipe_signature, recipe_table
from fer_lib.study.sections import (best_run_figures, best_run_per_class, bubble_section, finish_section,
                                    grid_section, misclassified_section, plan_section, precision_section, saved,
                                    table1_section, train_section, with_params)
from fer_lib.study.setup import (SYNTHETIC, configure_threads, data_label, data_plan, dataset_availability,
                                 pretrained_weights_status, profile_experiments, setup_notebook, smoke_overrides, tidy)
from fer_lib.study.tables import (compare_with_paper, epoch_time_table, grid_table, grid_wide, headline,
                                  p3_table1_beside, paper_class_values, paper_values, per_class_recall,
                                  per_class_table, runs_overview, summary_table, variant_params)

__all__ = ["SYNTHETIC", "best_run_figures", "best_run_per_class", "bubble_section", "cleaned_test_table", "compare_with_paper",
           "complete_runs", "configure_threads", "data_label", "data_plan", "dataset_availability",
           "epoch_time_table", "finish_section", "grid_section", "grid_table", "grid_wide", "headline",
           "latest_runs", "load_trained_model", "misclassified_figure", "misclassified_section",
           "p3_table1_beside", "p4_layout", "paper_class_values", "paper_values", "per_class_recall",
           "per_class_table", "plan_section", "plot_bubbles", "precision_check", "precision_runs", "pretrained_weights_status", "profile_experiments",
           "recipe_signature", "recipe_table", "run_dataset", "runs_note", "runs_overview", "save_run_figures", "speaking_runs",
           "saved", "setup_notebook", "precision_section", "table1_section", "smoke_overrides", "split_predictions", "spst_table2", "summary_table", "tidy",
           "train_experiments", "train_or_skip", "train_section", "usable_run", "variant_params", "verdict_runs", "with_params", "write_note"]
