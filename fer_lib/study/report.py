"""results/index.html (+ index.md): every table and figure, grouped by paper, linked to run manifests."""

from __future__ import annotations

import html
import json
import sys
from pathlib import Path

import mistune
import pandas as pd

from fer_lib.outputs import LOCAL_ONLY_NOTEBOOKS, atomic_write_text, local_only_figures, shows_dataset_images
from fer_lib.paths import results_dir, scratch_dir, scratch_mode
from fer_lib.runs.lock import clean_temp_files

# (group title, notebook sections in it); the verdicts come first.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Verdicts: which published claims hold up", ("12_comparison",)),
    ("Data", ("01_data_exploration", "02_balancing")),
    ("P3 — ResNet-50 on FER2013, balancing vs class weights", ("03_resnet50_fer2013",)),
    ("P1 — Swin-SE-ResNet", ("04_swin_se_resnet",)),
    ("P2 — LC2FER (ConvNeXt V2 configurations)", ("05_lc2fer",)),
    ("P4 — Swin + SPST + EMA", ("06_swin_spst_ema",)),
    ("Across papers: ablations, analysis, cross-dataset", ("07_ablations", "08_analysis", "09_cross_dataset")),
    ("Model complexity and speed", ("10_model_complexity", "11_benchmarks")),
)

# Verdict badges and the dashboard's condition lines, shared by the report page and the site.
BADGE_CSS = """.badge{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;white-space:nowrap;color:#fff}
.v-reproduced,.v-exceeded{background:#2e7d32}.v-not-reproduced{background:#c62828}.v-inconclusive{background:#ef8f00}
.v-not-run{background:#757575}.v-mixed{background:#6a1b9a}.v-consistent-by-construction{background:#1565c0}.cond{color:#555;font-size:12px}"""
_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee;margin:.5em 0}
h2{border-bottom:2px solid #444;margin-top:2em}h3{color:#444}.meta{color:#666;font-size:13px}.missing{color:#a33}
nav a{margin-right:1em}.scroll{overflow-x:auto}td{max-width:30em;white-space:normal;overflow-wrap:break-word}
table.dash td,table.dash th{text-align:left;vertical-align:top}
.note{background:#fafafa;border-left:3px solid #ccc;padding:.2em 1em;font-size:14px}
.banner{background:#fff3cd;border:1px solid #e0c060;padding:.6em 1em;font-weight:600}
""" + BADGE_CSS


def _visible(section_dir: Path, pattern: str) -> list[Path]:
    """Files of a section, never a hidden one (a name starting with '.' is a temp file or not ours)."""
    return sorted(p for p in section_dir.glob(pattern) if not p.name.startswith("."))


def _section_items(section_dir: Path) -> tuple[list[Path], list[Path], list[Path], list[str]]:
    notes = _visible(section_dir, "*.md")
    notes = [p for p in notes if not (p.with_suffix(".csv")).exists()]
    tables = _visible(section_dir, "*.csv")
    figures = _visible(section_dir, "*.png")
    runs_file = section_dir / "runs.json"
    runs = json.loads(runs_file.read_text()) if runs_file.exists() else []
    # the verdict table leads its section
    tables.sort(key=lambda p: (not p.stem.startswith("verdict"), p.stem))
    return notes, tables, figures, runs


LOCAL_ONLY = ("shows dataset images, which the datasets' terms forbid redistributing, so it is kept out of git; "
              "`make record DATA_DIR=...` draws it from your own copy of the data")


def _newest_run(root: Path) -> str:
    """When the newest run the report is built from finished (deterministic, unlike the build time)."""
    stamps = []
    for manifest in (root / "runs").glob("*/*/manifest.json"):
        try:
            stamps.append(json.loads(manifest.read_text()).get("finished") or "")
        except (OSError, ValueError):
            continue
    return max((s for s in stamps if s), default="never: no run recorded yet")


def _cell(value) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else html.escape(str(value))


DASHBOARD_COLUMNS = {"id", "paper", "table", "metric", "dataset", "paper_value", "ours", "ours_std", "n", "tolerance",
                     "tolerance_rule", "verdict", "why", "weights", "epochs", "seeds", "device"}


def _seed_links(runs: str, seeds: str, runs_href: str) -> str:
    """'seeds 0 1 2', each linked to its run's manifest (runs: ';'-joined run folders under the results root,
    one per seed); rows whose runs are not one per seed (a difference claim) name each run folder instead."""
    folders = [r for r in str(runs).split(";") if r] if _cell(runs) else []
    if not folders:
        return f"seeds {_cell(seeds)}" if _cell(seeds) else ""
    labels = str(seeds).split(",") if _cell(seeds) else []
    if len(labels) != len(folders):
        labels = [Path(f).name for f in folders]
    return "seeds " + " ".join(f'<a href="{runs_href}/{html.escape(f)}/manifest.json">{html.escape(label)}</a>'
                               for f, label in zip(folders, labels))


def dashboard_rows(table: pd.DataFrame, runs_href: str | None = None) -> list[str]:
    """One <tr> per claim: claim, paper beside ours (mean ± std, n), tolerance and rule, a coloured verdict
    badge (and the cleaned test set's Δ, a sensitivity), why and the conditions; with `runs_href`, each seed links to its
    run manifest (the table's `runs` column)."""
    rows = []
    for r in table.itertuples(index=False):
        ours = "" if r.ours != r.ours else _number(float(r.ours))
        if ours and r.ours_std == r.ours_std:
            ours += f" ± {_number(float(r.ours_std))}"
        if ours:
            ours += f" (n={int(r.n)})"
        seeds = (_seed_links(getattr(r, "runs", ""), r.seeds, runs_href) if runs_href is not None
                 else (f"seeds {_cell(r.seeds)}" if _cell(r.seeds) else ""))
        conditions = "; ".join([f"{k} {_cell(v)}" for k, v in (("weights", r.weights), ("epochs", r.epochs))
                                if _cell(v)] + ([seeds] if seeds else [])
                               + [f"{k} {_cell(v)}" for k, v in (("precision", getattr(r, "precision", None)),
                                                                 ("device", r.device)) if _cell(v)])
        badge = f'<span class="badge v-{str(r.verdict).replace(" ", "-")}">{_cell(r.verdict)}</span>'
        paper = "" if r.paper_value != r.paper_value else _number(float(r.paper_value))
        delta = getattr(r, "cleaned_delta", float("nan"))   # a sensitivity beside the verdict, not a verdict
        cleaned = ("" if delta != delta else f"<div class='cond'>cleaned test set: Δ {float(delta):+.2f} points "
                   f"({_number(float(r.ours_cleaned))}; sensitivity to train/test duplicates)</div>")
        rows.append(f"<tr><td>{_cell(r.id)}<div class='cond'>{_cell(r.paper)} · {_cell(r.table)} · "
                    f"{_cell(r.metric)} · {_cell(r.dataset)}</div></td><td>{paper}</td><td>{ours}</td>"
                    f"<td>{'±' + _number(float(r.tolerance)) if r.tolerance == r.tolerance else ''}"
                    f"<div class='cond'>{_cell(r.tolerance_rule)}</div></td><td>{badge}{cleaned}</td>"
                    f"<td>{_cell(r.why)}<div class='cond'>{conditions}</div></td></tr>")
    return rows


DASHBOARD_HEAD = ("<tr class='dash'><th>claim</th><th>paper</th><th>ours</th><th>tolerance</th><th>verdict</th>"
                  "<th>why · conditions</th></tr>")


def dashboard_table(table: pd.DataFrame, runs_href: str | None = None) -> str:
    """The verdict table as a reader scans it (dashboard_rows under one header); the CSV keeps every column."""
    return f"<table class='dash'>{DASHBOARD_HEAD}{''.join(dashboard_rows(table, runs_href=runs_href))}</table>"


def verdict_dashboard(table: pd.DataFrame) -> str:
    """The report page's dashboard: dashboard_table in a horizontally scrolling box."""
    return f"<div class='scroll'>{dashboard_table(table)}</div>"


def _number(value: float) -> str:
    """A table number as a reader wants it: 23,185,251 not 23185251.000; 40.93 not 40.930621."""
    if value != value:
        return ""
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) >= 1 else f"{value:.4g}"


def _title(stem: str) -> str:
    return stem.replace("_", " ").capitalize()


def _render_table(root: Path, table: Path) -> tuple[str, str]:
    """(HTML, Markdown) of one saved table; the verdict table renders as the dashboard."""
    rel = table.relative_to(root)
    if table.name == "verdicts.csv":
        verdicts = pd.read_csv(table, dtype={"seeds": str})
        if DASHBOARD_COLUMNS <= set(verdicts.columns):
            return (f'<h4>Verdicts <a class="meta" href="{rel}">csv (every column)</a></h4>'
                    + verdict_dashboard(verdicts),
                    f"\n**Verdicts** ([csv]({rel}))\n\n{verdicts.to_markdown(index=False)}\n")
    try:
        df = pd.read_csv(table)
    except pd.errors.EmptyDataError:  # a table with no rows and no columns (nothing to list yet)
        df = pd.DataFrame({"": ["(none yet)"]})
    return (f'<h4>{html.escape(_title(table.stem))} <a class="meta" href="{rel}">csv</a></h4>\n'
            '<div class="scroll">' + df.to_html(index=False, na_rep="", border=0, escape=True,
                                                float_format=_number) + "</div>",
            f"\n**{_title(table.stem)}** ([csv]({rel}))\n\n{df.to_markdown(index=False)}\n")


def _render_figures(root: Path, section_dir: Path, figures: list[Path], scratch: bool) -> tuple[list[str], list[str]]:
    """(HTML, Markdown) pieces of a section's figures; in the record, local-only ones are named, not shown."""
    body, md = [], []
    if not scratch:  # named from the committed list, so every clone's report is the same
        local_only = set(local_only_figures(section_dir))
        figures = [f for f in figures if f.name not in local_only and not shows_dataset_images(f)]
        for name in sorted(local_only):
            body.append(f'<p class="missing">{html.escape(_title(Path(name).stem))}: {LOCAL_ONLY}</p>')
            md.append(f"\n_{_title(Path(name).stem)}: {LOCAL_ONLY}_\n")
    for figure in figures:
        rel = figure.relative_to(root)
        body.append(f'<figure><img src="{rel}" alt="{html.escape(figure.stem)}">'
                    f"<figcaption>{html.escape(_title(figure.stem))}</figcaption></figure>")
        md.append(f"\n![{figure.stem}]({rel})\n")
    return body, md


def _render_section(root: Path, section: str, scratch: bool) -> tuple[list[str], list[str]]:
    """(HTML, Markdown) pieces of one notebook's section: notes, tables, figures, run manifests."""
    section_dir = root / section
    notebook = root / "notebooks" / f"{section}.ipynb"
    if section in LOCAL_ONLY_NOTEBOOKS and not scratch:  # git-ignored: the same text in every clone
        nb_link = ' <span class="meta">(executed notebook kept local: it shows dataset images)</span>'
    else:
        nb_link = (f' <a class="meta" href="notebooks/{section}.ipynb">(executed notebook)</a>'
                   if notebook.exists() else "")
    body, md = [f"<h3>{html.escape(section)}{nb_link}</h3>"], [f"\n### {section}\n"]
    if not section_dir.is_dir():
        return (body + ['<p class="missing">Not generated yet: run <code>make reproduce</code>.</p>'],
                md + ["\n_Not generated yet: run `make reproduce`._\n"])
    notes, tables, figures, runs = _section_items(section_dir)
    for note in notes:
        text = note.read_text()
        body.append(f'<div class="note">{mistune.html(html.escape(text, quote=False))}</div>')
        md.append(f"\n{text}\n")
    for table in tables:
        piece_html, piece_md = _render_table(root, table)
        body.append(piece_html)
        md.append(piece_md)
    figure_html, figure_md = _render_figures(root, section_dir, figures, scratch)
    body += figure_html
    md += figure_md
    if runs:
        links = ", ".join(f'<a href="{r}/manifest.json">{html.escape(Path(r).name)}</a>' for r in runs)
        body.append(f'<p class="meta">Run manifests: {links}</p>')
        md.append("\nRun manifests: " + ", ".join(f"[{Path(r).name}]({r}/manifest.json)" for r in runs) + "\n")
    return body, md


def build_report(root: Path | None = None) -> Path:
    """Write index.html and index.md under results/ from whatever the notebooks saved; returns the HTML path."""
    root = root or results_dir()
    for leftover in clean_temp_files(root):  # what writers killed mid-write left behind
        print(f"[report] removed leftover temp file {leftover}", file=sys.stderr)
    stamp = _newest_run(root)
    scratch = scratch_mode() or root == scratch_dir()
    banner = ("PIPELINE CHECK on the embedded synthetic data: these numbers test that the code runs end to end "
              "and say nothing about the papers. The study's record is results/index.html." if scratch else "")
    intro = (f"Built from the run records linked in each section (newest run finished {stamp}). Every number "
             f"below was computed by the study's code.")
    body, md = [], [f"# fer-repro {'pipeline check' if scratch else 'results'}\n\n"
                    + (f"**{banner}**\n\n" if banner else "") + intro + "\n"]
    nav = []
    for group_index, (group, sections) in enumerate(GROUPS):
        anchor = f"g{group_index}"
        nav.append(f'<a href="#{anchor}">{html.escape(group.split(" — ")[0].split(":")[0])}</a>')
        body.append(f'<h2 id="{anchor}">{html.escape(group)}</h2>')
        md.append(f"\n## {group}\n")
        for section in sections:
            section_html, section_md = _render_section(root, section, scratch)
            body += section_html
            md += section_md
    title = "fer-repro pipeline check" if scratch else "fer-repro results"
    banner_html = f"<p class='banner'>{html.escape(banner)}</p>" if banner else ""
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{_CSS}</style>"
            f"</head><body><h1>{title}</h1>{banner_html}<p class='meta'>{html.escape(intro)}</p>"
            f"<nav>{''.join(nav)}</nav>" + "\n".join(body) + "</body></html>\n")
    atomic_write_text(root / "index.html", page)
    atomic_write_text(root / "index.md", "\n".join(md))
    return root / "index.html"
