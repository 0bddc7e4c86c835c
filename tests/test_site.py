"""The site (Jupyter Book): builds offline from a results folder, opens on the verdict dashboard, links
every seed to its run manifest, has no broken link or image, loads nothing from the network, and fits a
1400 px window in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pandas as pd
import pytest

from fer_lib.paths import PROJECT_ROOT
from fer_lib.study.site import build_site

COMMITTED_VERDICTS = PROJECT_ROOT / "results" / "12_comparison" / "verdicts.csv"
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append((tag, value))


def _results_root(tmp_path: Path) -> Path:
    """A small results folder: the committed verdict table with one row pointing at a real run record, a
    run manifest, and two executed notebooks (one local-only)."""
    root = tmp_path / "results"
    run = root / "runs" / "p3_resnet50_weighted" / "20260101-000000-full-fer2013-s0"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text("{}")
    verdicts = pd.read_csv(COMMITTED_VERDICTS, dtype={"seeds": str})
    verdicts["runs"] = ""
    first = verdicts.index[verdicts["id"] == "P3-acc-weighted"][0]
    verdicts.loc[first, ["runs", "seeds"]] = [str(run.relative_to(root)), "0"]
    (root / "12_comparison").mkdir()
    verdicts.to_csv(root / "12_comparison" / "verdicts.csv", index=False)
    (root / "notebooks").mkdir()
    for stem in ("03_resnet50_fer2013", "01_data_exploration"):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {stem}"), nbformat.v4.new_code_cell("1 + 1")]
        nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
        nbformat.write(nb, root / "notebooks" / f"{stem}.ipynb")
    return root


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_site(_results_root(tmp_path_factory.mktemp("site")))


def test_site_opens_on_the_dashboard_and_links_seeds_to_manifests(site):
    page = site.read_text()
    assert re.search(r"<h1>Which published claims hold up", page)
    assert 'class="badge v-' in page and "P4 · Swin-T + SPST + EMA" in page
    assert "runs/p3_resnet50_weighted/20260101-000000-full-fer2013-s0/manifest.json" in page
    pages = sorted(p.name for p in site.parent.glob("*.html"))
    assert "03_resnet50_fer2013.html" in pages and "01_data_exploration.html" not in pages  # local-only stays out
    assert "kept local" in page.lower() or "Kept local" in page


def test_site_has_no_broken_link_and_fetches_nothing(site):
    root = site.parent
    broken, remote = [], []
    for page in root.rglob("*.html"):
        parser = _Links()
        parser.feed(page.read_text())
        for tag, link in parser.links:
            url = urlparse(link)
            if url.scheme in ("http", "https") or link.startswith("//"):
                if tag in ("script", "link", "img"):
                    remote.append(f"{page.name}: {tag} {link}")
                continue
            if url.scheme or not url.path:  # mailto:, javascript:, in-page anchors
                continue
            target = (page.parent / unquote(url.path)).resolve()
            if not target.exists():
                broken.append(f"{page.relative_to(root)} -> {link}")
    assert remote == [], "the site must build and open offline"
    assert broken == []


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")
def test_dashboard_fits_1400px_in_headless_chromium(site, tmp_path):
    probe = site.with_name("probe.html")
    probe.write_text(site.read_text().replace(
        "</body>", "<script>window.addEventListener('load', () => document.body.setAttribute('data-width', "
                   "document.documentElement.scrollWidth));</script></body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,1000"]
    dom = subprocess.run([CHROMIUM, *flags, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    width = re.search(r'data-width="(\d+)"', dom)
    assert width and int(width.group(1)) <= 1400, f"page is {width and width.group(1)} px wide"
    shot = tmp_path / "dashboard.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", site.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
