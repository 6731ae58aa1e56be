"""The reports in a real browser: headless Chromium renders each one, takes a
screenshot and prints it; the test checks the DOM for the expected sections and
plots and reads Chromium's NetLog to prove the page requested nothing.

Chromium itself contacts Google services in the background even with
``--disable-background-networking``; those requests carry the initiator
``"not an origin"`` in the NetLog, while a request made by a ``file://`` page
carries its opaque origin (``"null"``) and a ``file://`` network isolation key.
A control page that does load a remote image proves the check can fail. ``--host-resolver-rules`` resolves every host
to nothing, so no request could leave the machine in any case.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest
from conftest import make_frame
from test_report import FakeModel, FakeMonitor

from mlwf_core import report
from mlwf_core.eda import profile

pytestmark = pytest.mark.integration

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
if CHROMIUM is None:
    pytest.skip("Chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--window-size=1366,2400",
]


class _Dom(HTMLParser):
    """Collects section ids, SVG plot kinds and every URL-valued attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: set[str] = set()
        self.plots: list[str] = []
        self.urls: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("id"):
            self.sections.add(a["id"])
        if tag == "svg" and a.get("data-plot"):
            self.plots.append(a["data-plot"])
        if tag == "script":
            self.scripts += 1
        for name in ("src", "href", "srcset", "data", "action", "poster"):
            value = a.get(name)
            if value and not value.startswith(("#", "data:")):
                self.urls.append(value)


def _chromium(tmp: Path, name: str, url: str, *args: str) -> tuple[str, list[str]]:
    """Run Chromium on ``url`` with a fresh profile; return stdout and the page's requests."""
    netlog = tmp / f"{name}.netlog.json"
    cmd = [
        CHROMIUM,
        *FLAGS,
        f"--user-data-dir={tmp / f'{name}.profile'}",
        f"--log-net-log={netlog}",
    ]
    out = subprocess.run(
        [*cmd, *args, url], capture_output=True, text=True, timeout=120, check=True
    )
    return out.stdout, _page_requests(netlog)


def _page_requests(netlog: Path) -> list[str]:
    text = netlog.read_text()
    try:
        log = json.loads(text)
    except json.JSONDecodeError:
        # a log cut short at exit lacks its closing brackets
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    types = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if types.get(event["type"]) != "URL_REQUEST_START_JOB" or "url" not in params:
            continue
        # a file:// page has an opaque origin ("null") and a file:// isolation key
        from_page = params.get("initiator") == "null" or "file://" in str(
            params.get("network_isolation_key", "")
        )
        if from_page:
            urls.append(params["url"])
    return urls


def _png_is_drawn(path: Path) -> bool:
    """The screenshot is a PNG with more than blank pixels in it."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    return sum(b not in (0, 255) for b in raw[:2_000_000]) > 20_000


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("reports")
    binary = make_frame(n=500, task="binary")
    regression = make_frame(n=400, task="regression")
    return {
        "profile": profile(binary, target="y").to_html(tmp / "profile.html"),
        "binary": report.render_model_report(
            FakeModel(binary, "binary"), tmp / "binary.html", data=binary, monitor=FakeMonitor()
        ),
        "regression": report.render_model_report(
            FakeModel(regression, "regression"), tmp / "regression.html", data=regression
        ),
    }


EXPECTED = {
    "profile": (
        {"overview", "warnings", "columns", "correlations", "missing", "outliers", "target"},
        {"histogram": 2, "bar": 3, "heatmap": 2},
    ),
    "binary": (
        {"summary", "card", "leaderboard", "ensemble", "evaluation", "importance", "shap", "drift"}
        | {"data-overview", "data-columns", "data-target"},
        {"line": 4, "heatmap": 2, "bar": 4, "strip": 1},
    ),
    "regression": (
        {"summary", "evaluation", "importance", "shap", "data-correlations"},
        {"scatter": 2, "histogram": 2, "line": 1},
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_report_renders_offline(name: str, reports: dict[str, Path], tmp_path: Path) -> None:
    url = reports[name].as_uri()
    dom_html, requests = _chromium(tmp_path, f"{name}-dom", url, "--dump-dom")
    assert requests == []
    dom = _Dom()
    dom.feed(dom_html)
    sections, plots = EXPECTED[name]
    assert sections <= dom.sections
    for kind, at_least in plots.items():
        assert dom.plots.count(kind) >= at_least, (kind, dom.plots)
    assert dom.urls == [] and dom.scripts == 0
    assert not re.search(r"https?://", dom_html)

    shot = tmp_path / f"{name}.png"
    _, requests = _chromium(tmp_path, f"{name}-shot", url, f"--screenshot={shot}")
    assert requests == []
    assert _png_is_drawn(shot)


def test_model_report_prints(reports: dict[str, Path], tmp_path: Path) -> None:
    pdf = tmp_path / "binary.pdf"
    _chromium(
        tmp_path,
        "print",
        reports["binary"].as_uri(),
        f"--print-to-pdf={pdf}",
        "--no-pdf-header-footer",
    )
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= 3


def test_network_check_detects_a_request(tmp_path: Path) -> None:
    page = tmp_path / "control.html"
    page.write_text('<html><body><img src="http://example.com/pixel.png"></body></html>')
    _, requests = _chromium(tmp_path, "control", page.as_uri(), "--dump-dom")
    assert requests == ["http://example.com/pixel.png"]


def test_profile_of_a_wide_table_renders(tmp_path: Path) -> None:
    frame = make_frame(n=300).with_columns(
        [pl.col("x2").mul(i).alias(f"extra_{i}") for i in range(1, 40)]
    )
    path = profile(frame).to_html(tmp_path / "wide.html")
    dom_html, requests = _chromium(tmp_path, "wide", path.as_uri(), "--dump-dom")
    assert requests == []
    dom = _Dom()
    dom.feed(dom_html)
    assert dom.plots.count("histogram") >= 40


def test_csp_blocks_a_remote_reference_and_the_dom_check_sees_it(
    reports: dict[str, Path], tmp_path: Path
) -> None:
    tampered = tmp_path / "tampered.html"
    html = reports["profile"].read_text()
    tampered.write_text(html.replace("<main>", '<main><img src="http://example.com/p.png">', 1))
    dom_html, requests = _chromium(tmp_path, "tampered", tampered.as_uri(), "--dump-dom")
    assert requests == []  # the report's Content-Security-Policy stops the fetch
    dom = _Dom()
    dom.feed(dom_html)
    assert dom.urls == ["http://example.com/p.png"]
