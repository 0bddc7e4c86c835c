"""The short Markdown note each notebook section ends with: what ran, on which data, under which budget."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fer_lib import outputs
from fer_lib.runs.store import load_run
from fer_lib.study.setup import SYNTHETIC, data_label

# A notebook run with train=False (`make record`, `reproduce --record`) trains nothing, so its profile says
# nothing about the numbers: each run it shows carries its own data, budget and device in its manifest.
SUMMARY_ONLY = ("**Record rebuilt** from the runs already recorded: nothing trained here, so each run's own "
                "manifest (listed below and in runs.json) gives its data, budget and device.")


def runs_note(run_dirs: list[Path], profile: str, train: bool = True) -> str:
    """Markdown: which runs a section used, on what data, at what budget and where; says when none is real.
    With train=False the note says the section only summarised recorded runs instead of naming the profile."""
    first = SUMMARY_ONLY if not train else f"Profile `{profile}`."
    lines = [f"{first} Figures and per-run tables use the newest run that counts for the verdicts (real data, the "
             "recipe's full budget), else the newest run, real-data runs first."]
    manifests = [load_run(r).manifest for r in run_dirs]
    for m in manifests:
        lines.append(f"- `{m['experiment']}` `{m['run_id']}`: {data_label(m)}, {m['epochs_run']} epochs run of the "
                     f"recipe's {m['recipe_epochs']}, input {m['config']['data']['input_size']} px, {m['device']}, "
                     f"{m['wall_s'] / 60:.0f} min, {m['pretrained']}.")
    if not any(m["dataset"].get("real") for m in manifests):
        lines.append("No run on the real dataset yet: these claims stay 'not run' in the verdicts.")
    return "\n".join(lines)


def write_note(section: str, *, profile: str, data_dir=None, trained: pd.DataFrame | None = None,
               plan: pd.DataFrame | None = None, lines: list[str] = (), train: bool = True) -> Path:
    """Save the section's note: profile (or, with train=False, that it only summarised recorded runs) and data,
    what ran, what did not and why, plus `lines`.

    `plan` (from data_plan) adds one line per paper dataset that is not available here, with the reason.
    """
    profile_line = f"**Profile** `{profile}`" + (": embedded synthetic data with tiny budgets (pipeline check; the "
                                                 f"numbers are {SYNTHETIC})." if profile == "smoke" else ".")
    text = [profile_line if train else SUMMARY_ONLY,
            f"**Data dir** `{data_dir or 'default ($FER_DATA_DIR or ./data)'}`."]
    if trained is not None and not trained.empty:
        done = trained[trained["status"] == "complete"]
        if len(done):
            text.append("**Trained here**: " + "; ".join(
                f"{r.experiment} ({r.dataset}, seed {r.seed}{', ' + r.why if r.why else ''})" for r in done.itertuples()))
        other = trained[trained["status"] != "complete"]
        for (status, why), group in other.groupby(["status", "why"], sort=False):
            text.append(f"**{status.capitalize()}** ({why}): {', '.join(group['experiment'])}")
    if plan is not None and not plan.empty:
        missing = plan[plan["paper's dataset here"] != "available"]
        for dataset, group in missing.groupby("paper's dataset", sort=False):
            reason = group["paper's dataset here"].iloc[0]
            text.append(f"**{dataset}** ({', '.join(group['experiment'])}): {reason}")
    text += list(lines)
    return outputs.save_note(section, "\n\n".join(text))
