"""Benchmark: utilities detection on generated, labelled scenarios. For each seed a city of
about ``--meters`` meters is generated for ``--days`` days with injected faults (ground truth);
its readings are fed to the incremental detector step by step (one batch per reporting
interval, a clock tick after each), exactly as the live system would. Per fault kind it
reports precision, recall, false alarms per 1,000 meter-days and the median time to detect.

    .venv/bin/python benchmarks/utilities_detection.py [--seeds 1,2,3] [--meters 1000]
        [--days 60] [--truth-dir DIR]

Prints one JSON line per kind and seed, one per kind over all seeds, then a readable table.
Matching: a finding is a true positive when a fault of its kind on one of its meters (an
outage: its group and resource) was active when it was detected (up to 6 h after a fault
ended); a finding that matches no fault of its kind but one of another kind on the same meter
(a leak also raising the day's total) is counted as *related*, neither true nor false; the rest
are false alarms. Leaks are counted as found within 24 h, outages within 15 min.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import emit

from qala.utilities.detect import KINDS, Detector, Finding
from qala.utilities.scenario import Scenario, build_scenario
from qala.utilities.scenario_faults import Fault, write_truth

AFTER_END = 6 * 3600
WATER = ("cold_water", "hot_water")
DEADLINE = {"leak": 24 * 3600, "outage": 15 * 60}
METERS_PER_BUILDING = 123  # what a generated building brings on average (all levels)


def run(scenario: Scenario) -> tuple[list[Finding], float]:
    """Feed the whole scenario to a fresh detector; returns the findings and seconds spent."""
    detector = Detector(scenario.meters)
    findings: list[Finding] = []
    spent = 0.0
    start = scenario.config.start
    for day in range(scenario.config.days):
        frame = scenario.readings(
            start + dt.timedelta(days=day), start + dt.timedelta(days=day + 1)
        )
        began = time.perf_counter()
        for batch, moment in zip(frame.batches(), frame.times, strict=True):
            events = detector.feed(batch) + detector.tick(int(moment))
            findings += [e for e in events if isinstance(e, Finding)]
        spent += time.perf_counter() - began
    return findings, spent


def _seconds(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _overlaps(finding: Finding, fault: Fault) -> bool:
    if fault.kind == "outage" or finding.kind == "outage":
        resource = finding.evidence.get("resource") if finding.kind == "outage" else None
        if finding.kind == "outage" and fault.kind == "outage":
            return finding.group == fault.group and resource == fault.resource
        return bool(set(finding.meter_ids) & set(fault.meter_ids))
    return bool(set(finding.meter_ids) & set(fault.meter_ids))


def _active(
    finding: Finding, fault: Fault, horizon: int, before: int = 0, after: int = AFTER_END
) -> bool:
    start = _seconds(fault.start) - before
    end = _seconds(fault.end) if fault.end else horizon
    return start <= _seconds(finding.detected_at) <= end + after


def evaluate(scenario: Scenario, findings: list[Finding]) -> dict[str, dict[str, Any]]:
    """Per kind: counts, precision, recall, false alarms per 1,000 meter-days, times."""
    horizon = scenario.end_s
    faults = list(scenario.faults)
    out: dict[str, dict[str, Any]] = {}
    water_meters = sum(1 for m in scenario.meters if m.resource in WATER)
    for kind in KINDS:
        truths = [f for f in faults if f.kind == kind]
        mine = [f for f in findings if f.kind == kind]
        tp = fp = related = 0
        first: dict[int, int] = {}
        for finding in mine:
            hits = [
                n
                for n, f in enumerate(truths)
                if _overlaps(finding, f) and _active(finding, f, horizon)
            ]
            if hits:
                tp += 1
                for n in hits:
                    delay = _seconds(finding.detected_at) - _seconds(truths[n].start)
                    first[n] = min(first.get(n, delay), delay)
            elif any(
                _overlaps(finding, f) and _active(finding, f, horizon, 3600, 30 * 3600)
                for f in faults
            ):
                related += 1
            else:
                fp += 1
        applicable = water_meters if kind in ("leak", "burst") else len(scenario.meters)
        delays = sorted(first.values())
        deadline = DEADLINE.get(kind)
        out[kind] = {
            "faults": len(truths),
            "found": len(first),
            "findings": len(mine),
            "true_positive": tp,
            "related": related,
            "false_alarms": fp,
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "recall": round(len(first) / len(truths), 4) if truths else None,
            "false_alarms_per_1000_meter_days": round(
                fp / (applicable * scenario.config.days / 1000), 4
            ),
            "median_time_to_detect_h": round(statistics.median(delays) / 3600, 2)
            if delays
            else None,
        }
        if deadline and truths:
            out[kind][f"recall_within_{deadline // 60}_min"] = round(
                sum(1 for d in delays if d <= deadline) / len(truths), 4
            )
    return out


def combine(
    results: list[dict[str, dict[str, Any]]], meter_days: float
) -> dict[str, dict[str, Any]]:
    """Pool the counts of several seeds."""
    pooled: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        rows = [r[kind] for r in results]
        faults, found = sum(r["faults"] for r in rows), sum(r["found"] for r in rows)
        tp, fp = sum(r["true_positive"] for r in rows), sum(r["false_alarms"] for r in rows)
        medians = [
            r["median_time_to_detect_h"] for r in rows if r["median_time_to_detect_h"] is not None
        ]
        pooled[kind] = {
            "faults": faults,
            "found": found,
            "true_positive": tp,
            "related": sum(r["related"] for r in rows),
            "false_alarms": fp,
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "recall": round(found / faults, 4) if faults else None,
            "false_alarms_per_1000_meter_days": round(
                sum(r["false_alarms_per_1000_meter_days"] for r in rows) / len(rows), 4
            ),
            "median_time_to_detect_h": round(statistics.median(medians), 2) if medians else None,
        }
        for key in rows[0]:
            if key.startswith("recall_within"):
                pooled[kind][key] = round(
                    sum(r[key] * r["faults"] for r in rows) / max(faults, 1), 4
                )
    return pooled


def table(pooled: dict[str, dict[str, Any]]) -> str:
    """A readable table of pooled figures."""
    head = (
        f"{'kind':<13}{'faults':>7}{'found':>7}{'prec':>7}{'recall':>8}{'in-time':>9}"
        f"{'FA/1kmd':>9}{'TTD h':>8}{'related':>9}"
    )
    lines = [head, "-" * len(head)]
    for kind, row in pooled.items():
        within = next((v for k, v in row.items() if k.startswith("recall_within")), None)
        lines.append(
            f"{kind:<13}{row['faults']:>7}{row['found']:>7}{_fmt(row['precision']):>7}"
            f"{_fmt(row['recall']):>8}{_fmt(within):>9}{row['false_alarms_per_1000_meter_days']:>9.3f}"
            f"{_fmt(row['median_time_to_detect_h']):>8}{row['related']:>9}"
        )
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main() -> None:
    """Parse arguments and run every seed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="1,2,3", help="Comma-separated scenario seeds.")
    parser.add_argument("--meters", type=int, default=1000, help="About this many meters.")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--truth-dir", type=Path, help="Also write each seed's ground truth here.")
    args = parser.parse_args()
    buildings = max(4, round(args.meters / METERS_PER_BUILDING))
    results = []
    meter_days = 0.0
    for seed in (int(s) for s in args.seeds.split(",")):
        started = time.perf_counter()
        scenario = build_scenario(seed=seed, buildings=buildings, days=args.days)
        findings, spent = run(scenario)
        total = time.perf_counter() - started
        if args.truth_dir:
            args.truth_dir.mkdir(parents=True, exist_ok=True)
            write_truth(list(scenario.faults), args.truth_dir / f"utilities_truth_{seed}.json")
        result = evaluate(scenario, findings)
        results.append(result)
        meter_days += scenario.meter_days
        speed = args.days * 86_400 / spent
        for kind, row in result.items():
            emit(benchmark="utilities_detection", seed=seed, meters=len(scenario.meters),
                 days=args.days, kind=kind, **row)  # fmt: skip
        emit(benchmark="utilities_detection_speed", seed=seed, meters=len(scenario.meters),
             days=args.days, detector_seconds=round(spent, 1), total_seconds=round(total, 1),
             times_real_time=round(speed))  # fmt: skip
    pooled = combine(results, meter_days)
    for kind, row in pooled.items():
        emit(benchmark="utilities_detection_pooled", seeds=args.seeds, kind=kind, **row)
    print(table(pooled))


if __name__ == "__main__":
    main()
