"""The report opened in a real headless Chromium: every image loads and the page logs no error."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from _fake_store import make_store

from metagrad.report.html import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (Debian: apt-get install -y chromium; .ci/run installs it)",
)

# Injected at the top of <head> of a copy of the page: records script errors, console.error calls
# and failed resource loads (capture phase: <img> error events do not bubble); after `load`, every
# <img> that is not complete or has naturalWidth 0 is broken. The verdict is written into the DOM
# that --dump-dom prints.
_PROBE = """<script>
window.__errors = [];
window.addEventListener('error', function (e) {
  var t = e.target;
  window.__errors.push(t && t !== window ? 'load failed: ' + (t.src || t.href || t.tagName)
                                         : 'error: ' + e.message);
}, true);
var __ce = console.error;
console.error = function () { window.__errors.push('console.error: ' + [].join.call(arguments, ' '));
                              return __ce.apply(console, arguments); };
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var bad = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; })
                .map(function (i) { return i.getAttribute('src'); });
  var pre = document.createElement('pre');
  pre.id = '__probe';
  pre.textContent = JSON.stringify({n: imgs.length, bad: bad, errors: window.__errors,
                                   pwned: !!window.__pwned});
  document.body.appendChild(pre);
});
</script>"""


def _probe(page: Path, tmp: Path) -> dict:
    """Open a copy of `page` (same directory) with the probe; return its verdict and stderr."""
    text = page.read_text(encoding="utf-8")
    probe = page.with_name("__probe.html")
    probe.write_text(text.replace("<head>", "<head>" + _PROBE, 1), encoding="utf-8")
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        "--dump-dom",
        probe.resolve().as_uri(),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    finally:
        probe.unlink()
    m = re.search(r'<pre id="__probe">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"no probe verdict (exit {proc.returncode}); stderr tail:\n{proc.stderr[-2000:]}"
    verdict = json.loads(html.unescape(m.group(1)))
    # console messages Chromium logs itself (e.g. CSP or parse errors), besides the probe's own
    verdict["console"] = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    return verdict


def test_report_images_load_and_no_errors(tmp_path):
    store = tmp_path / "store"
    make_store(store)
    index = build_report(store, tmp_path / "report", check_code=False)
    v = _probe(index, tmp_path)
    assert v["n"] == 4, v
    assert v["bad"] == [] and v["errors"] == [] and v["console"] == [], v
    assert v["pwned"] is False


def test_probe_detects_a_broken_image_and_a_script_error(tmp_path):
    """The probe itself can fail: a missing image and a throwing script are both reported."""
    page = tmp_path / "index.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'></head><body>"
        "<img src='figures/missing.png'><script>undefined_function()</script></body></html>"
    )
    v = _probe(page, tmp_path)
    assert v["bad"] == ["figures/missing.png"]
    assert any("missing.png" in e for e in v["errors"])
    assert any("undefined_function" in e for e in v["errors"])
