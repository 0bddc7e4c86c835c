"""The study's site, built with Jupyter Book from the executed notebooks: its first page is the verdict
dashboard (per paper, each claim's number beside ours with its seeds linked to their run manifests, a
coloured verdict and the conditions it was judged under), then one page per executed notebook.

It builds offline (Sphinx copies the theme's files; nothing is fetched) into <results>/site/. Notebooks
that show dataset images (outputs.LOCAL_ONLY_NOTEBOOKS) stay out of the committed site, which says so.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from fer_lib.outputs import LOCAL_ONLY_NOTEBOOKS
from fer_lib.paths import results_dir, scratch_dir, scratch_mode
from fer_lib.study.report import BADGE_CSS, GROUPS, build_report, dashboard_table

SITE = "site"
PAPERS = {"P1": "P1 · Swin-SE-ResNet (FER2013, AffectNet subset, their union)",
          "P2": "P2 · LC2FER (ConvNeXt V2 configurations on RAF-DB)",
          "P3": "P3 · ResNet-50 on FER2013: resampling vs class weights",
          "P4": "P4 · Swin-T + SPST + EMA (JAFFE, FERPlus, RAF-DB, FANE)"}
_CSS = BADGE_CSS + """
table.dash{width:100%;table-layout:fixed;border-collapse:collapse;font-size:13px}
table.dash td,table.dash th{text-align:left;vertical-align:top;padding:3px 6px;border-bottom:1px solid #ddd;overflow-wrap:anywhere}
table.dash th:nth-child(1){width:24%}table.dash th:nth-child(2){width:8%}table.dash th:nth-child(3){width:13%}
table.dash th:nth-child(4){width:13%}table.dash th:nth-child(5){width:14%}
.counts td{padding:2px 10px}
.bd-page-width{max-width:1400px}.bd-main .bd-content .bd-article-container{max-width:100%}
.output_area,.cell_output{overflow-x:auto}"""


def _headline_html(table: pd.DataFrame) -> str:
    """Verdict counts per claim class (accuracy, architecture, difference) as a small table: claim rows only (a
    claim group's member and breakdown rows are shown in the tables below, not counted)."""
    table = table[table["role"] == "claim"] if "role" in table else table
    counts = table.groupby(["claim_class", "verdict"]).size().unstack(fill_value=0)
    head = "".join(f"<th>{html.escape(str(v))}</th>" for v in counts.columns)
    body = "".join(f"<tr><td>{html.escape(str(k))}</td>" + "".join(f"<td>{int(n)}</td>" for n in row) + "</tr>"
                   for k, row in counts.iterrows())
    return f"<table class='counts'><tr><th>claims (claim rows only)</th>{head}</tr>{body}</table>"


def dashboard_page(verdicts: pd.DataFrame, runs_href: str = "..") -> str:
    """The site's first page (MyST Markdown with raw HTML): counts, then one dashboard table per paper."""
    parts = ["# Which published claims hold up\n",
             "Every row is a number one of the four papers publishes, beside ours: the mean ± std over the seeds "
             "of complete runs on the real dataset (each seed links to its run manifest), the tolerance applied "
             "and its rule, the verdict — also on the test set cleaned of train duplicates — and the conditions "
             "it was judged under (weights, epochs run vs the recipe, seeds, device). Runs here train from "
             "scratch: no ImageNet weights can be had offline. The full table is "
             "[verdicts.csv](../12_comparison/verdicts.csv); how each verdict is reached is in the "
             "Comparison notebook.\n",
             f"```{{raw}} html\n{_headline_html(verdicts)}\n```\n"]
    for paper, title in PAPERS.items():
        rows = verdicts[verdicts["paper"] == paper]
        if rows.empty:
            continue
        parts.append(f"## {title}\n")
        parts.append(f"```{{raw}} html\n{dashboard_table(rows, runs_href=runs_href)}\n```\n")
    return "\n".join(parts)


def _published_notebooks(root: Path, scratch: bool) -> list[Path]:
    """Executed notebooks to publish, in the report's order; local-only ones only in a scratch site."""
    order = [section for _, sections in GROUPS for section in sections]
    found = {p.stem: p for p in (root / "notebooks").glob("*.ipynb")}
    return [found[s] for s in order if s in found and (scratch or s not in LOCAL_ONLY_NOTEBOOKS)]


def _book_files(src: Path, root: Path, notebooks: list[Path], scratch: bool) -> None:
    """_config.yml, _toc.yml, index.md and the notebooks of the book, under `src`."""
    title = "fer-repro pipeline check" if scratch else "fer-repro: four FER papers, claim by claim"
    config = {"title": title, "author": "fer-repro", "only_build_toc_files": True,
              "execute": {"execute_notebooks": "off"}, "repository": {"url": ""},
              "html": {"use_repository_button": False, "use_issues_button": False, "use_edit_page_button": False,
                       "extra_footer": ""},
              "sphinx": {"config": {"html_static_path": ["_static"], "html_css_files": ["fer.css"],
                                    "html_show_copyright": False, "html_last_updated_fmt": None,
                                    "nb_merge_streams": True, "suppress_warnings": ["myst.header"],
                                    "html_theme_options": {"use_download_button": False,
                                                           "use_fullscreen_button": False}}}}
    (src / "_static").mkdir(parents=True)
    (src / "_static" / "fer.css").write_text(_CSS)
    (src / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    verdicts_csv = root / "12_comparison" / "verdicts.csv"
    page = (dashboard_page(pd.read_csv(verdicts_csv, dtype={"seeds": str})) if verdicts_csv.exists()
            else "# Which published claims hold up\n\nNo verdict table yet: run `make reproduce`.\n")
    if not scratch and any((root / "notebooks" / f"{s}.ipynb").exists() for s in LOCAL_ONLY_NOTEBOOKS):
        page += ("\n## Kept local\n\nThe notebooks " + ", ".join(sorted(LOCAL_ONLY_NOTEBOOKS)) + " show dataset "
                 "images, which the datasets' terms forbid redistributing: they are not part of this site.\n")
    (src / "index.md").write_text(page)
    for notebook in notebooks:
        shutil.copy2(notebook, src / notebook.name)
    toc = {"format": "jb-book", "root": "index", "chapters": [{"file": n.stem} for n in notebooks]}
    (src / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))


def _prune(built: Path) -> None:
    """Drop what a reader's browser never loads: build caches, page sources, source maps, UI translations."""
    for junk in (".buildinfo", ".doctrees", "_sources", "objects.inv", "_static/locales",
                 "_static/webpack-macros.html", "_static/sbt-webpack-macros.html"):
        path = built / junk
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    for source_map in built.rglob("*.map"):
        source_map.unlink()


def publish(root: Path | None = None) -> Path:
    """The report page (index.html, index.md) and the site of a results root; returns the site's index.html."""
    build_report(root)
    return build_site(root)


def build_site(root: Path | None = None) -> Path:
    """Build the site under <root>/site (the record's by default) and return its index.html."""
    root = Path(root or results_dir())
    scratch = scratch_mode() or root == scratch_dir()
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "book", Path(tmp) / "out"
        _book_files(src, root, _published_notebooks(root, scratch), scratch)
        builder = Path(sys.executable).with_name("jupyter-book")
        result = subprocess.run([str(builder), "build", str(src), "--path-output", str(out), "--quiet"],
                                capture_output=True, text=True, env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
        if result.returncode != 0:
            raise RuntimeError(f"jupyter-book build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        built = out / "_build" / "html"
        _prune(built)
        target, staging = root / SITE, root / f".{SITE}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(built, staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target / "index.html"
