"""A temporary result store with fabricated figure summaries (good, paper scale, stale, broken,
diverged, hostile strings) for the report tests."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

EVIL = "<script>window.__pwned=1</script><img src=x onerror=alert(1)>\"'&"


def png_bytes(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid RGB PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def check(name: str, passed: bool, measured: Any, target: Any, tol: Any = None, note: str = ""):
    """One claim as save_run writes it."""
    return {
        "name": name,
        "passed": passed,
        "measured": measured,
        "target": target,
        "tolerance": tol,
        "note": note,
    }


def summary(fig_id: str, scale: str, checks: list, *, keys=("k0",), **extra) -> dict:
    """A summary dict shaped like save_run's."""
    s = {
        "id": fig_id,
        "study": fig_id.split(".")[0] + ".study",
        "title": f"Title of {fig_id}",
        "paper": "Some paper",
        "scale": scale,
        "config": {"n": 3, "alpha": 0.5},
        "seeds": [0],
        "statuses": [{"key": k, "status": "ok"} for k in keys],
        "point_keys": list(keys),
        "diverged_seeds": [],
        "causes": [],
        "checks": checks,
        "figures": ["main"],
        "plot_error": None,
        "output": "/nonexistent",
        "written": "2026-12-01T10:00:00+00:00",
    }
    s.update(extra)
    return s


def write_run(root: Path, s: dict, *, tag: str, points: bool = True, images: bool = True) -> Path:
    """Write a summary (and its points and PNGs) under root/runs/<id>/<tag>/."""
    d = root / "runs" / s["id"].replace("/", "_") / tag
    d.mkdir(parents=True, exist_ok=True)
    (d / "summary.json").write_text(json.dumps(s, indent=1))
    if images:
        for i, name in enumerate(s["figures"]):
            if "/" not in name:
                (d / f"{name}.png").write_bytes(png_bytes(40 + 10 * i, 30, (30, 90, 160)))
    if points:
        (root / s["study"]).mkdir(parents=True, exist_ok=True)
        for k in s["point_keys"]:
            (root / s["study"] / f"{k}.json").write_text("{}")
    return d / "summary.json"


def make_store(root: Path) -> dict[str, Path]:
    """Fill `root` with every kind of summary; return the paths of interest by name."""
    paths: dict[str, Path] = {}
    # quick and paper scale of one figure (the paper one fails a claim, with its own target)
    paths["quick"] = write_run(
        root,
        summary(
            "bernacchia2021.fig2",
            "quick",
            [
                check("optimal alpha_t is negative", True, -1.0, 0.0, None, "argmin of MC"),
                check("theory vs MC gap", True, 0.011, 0.0, 0.03),
            ],
            keys=("q0",),
        ),
        tag="quick",
    )
    paths["paper"] = write_run(
        root,
        summary(
            "bernacchia2021.fig2",
            "paper",
            [
                check("optimal alpha_t is negative", True, -1.25, 0.0),
                check("theory vs MC gap", False, 0.0512, 0.0, 0.035),
            ],
            keys=("p0", "p1"),
            config={"n": 1000, "alpha": 0.5},
        ),
        tag="paper",
    )
    # an older summary of the same (id, scale): superseded by the newer one
    paths["old"] = write_run(
        root,
        summary(
            "bernacchia2021.fig2",
            "quick",
            [check("optimal alpha_t is negative", False, 5.0, 0.0)],
            keys=("q0",),
            written="2026-11-01T10:00:00+00:00",
        ),
        tag="older",
    )
    # stale: all claims pass, but its point was deleted from the store
    paths["stale"] = write_run(
        root,
        summary("zou2022.fig1", "quick", [check("distance falls", True, 0.2, 0.3)], keys=("gone",)),
        tag="stale",
        points=False,
    )
    # diverged: every seed diverged, nothing plotted, no claims
    paths["diverged"] = write_run(
        root,
        summary(
            "yuksel2024.fig2",
            "quick",
            [],
            keys=("d0",),
            diverged_seeds=[0],
            causes=["DivergenceError: loss became inf at step 12"],
            figures=[],
        ),
        tag="diverged",
    )
    # hostile strings everywhere the summary carries text
    paths["evil"] = write_run(
        root,
        summary(
            "wang2024.evil" + EVIL,
            "quick",
            [check(EVIL, True, EVIL, [EVIL, 1.5], {"rtol": EVIL}, EVIL)],
            keys=("e0",),
            title=EVIL,
            config={EVIL: EVIL, "x": [EVIL]},
            figures=["main", "../../../etc/passwd" + EVIL],
            plot_error=EVIL,
        ),
        tag="evil",
    )
    # broken files
    for name, text in {
        "truncated": '{"id": "wang2024.fig3", "scale": "qu',
        "empty": "",
        "list": "[]",
        "badpassed": json.dumps(
            summary("wang2024.fig4", "quick", [check("c", "yes", 1.0, 1.0)])  # type: ignore[arg-type]
        ),
        "nokeys": json.dumps({"id": "wang2024.fig5", "scale": "quick"}),
        "traversal": json.dumps(summary("wang2024.fig6", "quick", [], keys=("../../x",))),
    }.items():
        d = root / "runs" / "broken" / name
        d.mkdir(parents=True)
        (d / "summary.json").write_text(text)
        paths["broken_" + name] = d / "summary.json"
    return paths
