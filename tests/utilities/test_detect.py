"""Detectors on small crafted series: they find what they should and let normal life be."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from qala.utilities.detect import (
    Cleared,
    Detector,
    Finding,
    Meter,
    Reading,
    ReadingArrays,
    detect_window,
)
from qala.utilities.detect_abnormal import robust_z
from qala.utilities.detect_flow import night_baseline
from qala.utilities.scenario import build_scenario

T0 = int(dt.datetime(2025, 2, 9, 19, tzinfo=dt.UTC).timestamp())  # local midnight (UTC+5)
STEP = 300


def grid(days: float) -> np.ndarray:
    return T0 + np.arange(int(days * 86_400 / STEP), dtype=np.int64) * STEP


def arrays(meters: list[Meter], times: np.ndarray, values: np.ndarray) -> ReadingArrays:
    """Readings of ``values[m, k]`` (NaN: nothing sent) as detector input."""
    rows, cols = np.nonzero(np.isfinite(values))
    return ReadingArrays(rows.astype(np.int64), times[cols], values[rows, cols])


def household(
    rng: np.random.Generator, times: np.ndarray, litres_per_day: float = 250
) -> np.ndarray:
    """Water of a household: use events by day and evening, nothing between 01:00 and 06:00."""
    hour = (times + 5 * 3600) % 86_400 / 3600
    active = np.where((hour >= 7) & (hour < 24), 1.0, 0.0)
    events = rng.poisson(active * litres_per_day / 7 / 17 / 12)
    return events * 0.007


def kinds(events: list, kind: str) -> list[Finding]:
    return [e for e in events if isinstance(e, Finding) and e.kind == kind]


def building(apartments: int = 4) -> list[Meter]:
    """A district head, one building input and its apartments (cold water)."""
    meters = [Meter("D-CW", "cold_water", "district", "D"),
              Meter("B-CW", "cold_water", "building", "D", "B", "D-CW")]  # fmt: skip
    meters += [
        Meter(f"B-A{n}-CW", "cold_water", "apartment", "D", "B", "B-CW", premises=f"B-A{n}")
        for n in range(apartments)
    ]
    return meters


def flows_for(meters: list[Meter], rng: np.random.Generator, times: np.ndarray) -> np.ndarray:
    """Per-step flows: apartments use water, the building adds a small loss, the head too."""
    apartments = np.array([household(rng, times) for m in meters if m.level == "apartment"])
    loss = np.full(times.size, 0.012 * STEP / 3600)
    total = apartments.sum(axis=0) + loss
    return np.vstack([total + 0.004, total, apartments])


def indexes(flows: np.ndarray) -> np.ndarray:
    return np.floor((100.0 + np.cumsum(flows, axis=1)) / 0.001) * 0.001


def test_an_apartment_leak_is_found_within_a_day_and_clears_when_it_stops():
    meters, times = building(), grid(6)
    flows = flows_for(meters, np.random.default_rng(1), times)
    leak = (times >= T0 + 3 * 86_400 + 5 * 3600) & (times < T0 + 5 * 86_400)
    for row in (0, 1, 2):  # the leaking apartment and every meter upstream
        flows[row, leak] += 0.003 * STEP / 3600  # 3 L/h
    events = detect_window(meters, arrays(meters, times, indexes(flows)))
    found = kinds(events, "leak")
    assert [f.key for f in found] == ["leak:B-A0-CW"]
    delay = found[0].detected_at - dt.datetime.fromtimestamp(int(times[leak][0]), dt.UTC)
    assert delay <= dt.timedelta(hours=24)
    assert found[0].evidence["series"] and found[0].severity in ("low", "medium")
    assert any(isinstance(e, Cleared) and e.key == "leak:B-A0-CW" for e in events)


def test_normal_households_raise_nothing():
    meters, times = building(6), grid(5)
    flows = flows_for(meters, np.random.default_rng(2), times)
    events = detect_window(meters, arrays(meters, times, indexes(flows)))
    assert [e for e in events if isinstance(e, Finding)] == []


def test_a_building_leak_shows_in_the_minimum_night_flow():
    meters, times = building(), grid(7)
    flows = flows_for(meters, np.random.default_rng(3), times)
    leak = times >= T0 + 4 * 86_400 + 12 * 3600
    flows[0:2, leak] += 0.04 * STEP / 3600  # 40 L/h under the building input
    found = kinds(detect_window(meters, arrays(meters, times, indexes(flows))), "leak")
    assert [f.key for f in found] == ["leak:B-CW"]
    assert found[0].evidence["method"] == "minimum_night_flow"
    assert found[0].evidence["observed"] > found[0].evidence["threshold"]


def test_meter_faults_on_one_series():
    meter = Meter("M", "electricity", "apartment", resolution=0.01)
    times = grid(1)
    values = np.round(1000 + np.cumsum(np.full(times.size, 0.05)), 2)
    values[20] = -values[20]  # negative
    values[40] += 9_000  # impossible jump up, then back on track
    values[60:] -= 400  # the index drops and stays lower (reset)
    values[100:110] = np.nan  # a gap of 55 minutes
    values[150:170] = values[149] - np.cumsum(np.full(20, 0.05))  # running backwards
    values[170:] = values[169] + np.cumsum(np.full(values.size - 170, 0.05))
    events = detect_window([meter], arrays([meter], times, values[None, :]))
    found = {f.kind for f in events if isinstance(f, Finding)}
    assert found == {"negative", "spike", "decreasing", "gap", "reverse_flow"}
    assert any(isinstance(e, Cleared) and e.key == "negative:M" for e in events)


def test_readings_may_come_as_records_in_any_order():
    meter = Meter("M", "electricity", "apartment", resolution=0.01)
    times = grid(0.2)
    records = [
        Reading("M", dt.datetime.fromtimestamp(int(t), dt.UTC), 10 + n * 0.05)
        for n, t in enumerate(times)
    ]
    records[5] = Reading("M", records[5].time, -3.0)
    detector = Detector([meter])
    events = detector.feed(reversed(records)) + detector.feed(
        [Reading("other", records[0].time, 1.0)]
    )
    assert [e.kind for e in events if isinstance(e, Finding)] == ["negative"]


def feeders(buildings: int = 5) -> list[Meter]:
    meters = [Meter("F1-EL", "electricity", "district", "F1", resolution=0.1)]
    meters += [Meter(f"B{n}-EL", "electricity", "building", "F1", f"B{n}", "F1-EL", resolution=0.01)
               for n in range(buildings)]  # fmt: skip
    return meters


def feeder_values(meters: list[Meter], times: np.ndarray) -> np.ndarray:
    per_step = np.full((len(meters), times.size), 2.0)
    per_step[0] = 2.0 * (len(meters) - 1) * 1.03
    return 5000 + np.cumsum(per_step, axis=1)


def test_a_feeder_outage_is_found_within_15_minutes_and_clears():
    meters, times = feeders(), grid(3)
    values = feeder_values(meters, times)
    cut = (times > T0 + 2 * 86_400 + 600 + 77) & (times <= T0 + 2 * 86_400 + 3 * 3600)
    values[1:, cut] = np.nan  # building meters lose power
    head = np.flatnonzero(cut)
    values[0, head] = values[0, head[0] - 1]  # the feeder head reads zero flow
    values[0, head[-1] + 1 :] -= values[0, head[-1] + 1] - values[0, head[0] - 1] - 2.0
    events = detect_window(meters, arrays(meters, times, values))
    outages = kinds(events, "outage")
    assert [f.key for f in outages] == ["outage:F1:electricity"]
    began = dt.datetime.fromtimestamp(T0 + 2 * 86_400 + 600 + 77, dt.UTC)
    assert outages[0].detected_at - began <= dt.timedelta(minutes=15)
    assert outages[0].severity == "critical"
    assert any(isinstance(e, Cleared) and e.key == "outage:F1:electricity" for e in events)
    assert kinds(events, "gap") == [] and kinds(events, "silent") == []


def test_one_broken_meter_is_not_an_outage():
    meters, times = feeders(), grid(2)
    values = feeder_values(meters, times)
    values[3, times > T0 + 86_400 + 3600] = np.nan
    events = detect_window(meters, arrays(meters, times, values))
    assert kinds(events, "outage") == []
    assert [f.key for f in kinds(events, "silent")] == ["silent:B2-EL"]


def test_a_stuck_building_meter_while_its_apartments_consume():
    meters, times = building(), grid(4)
    flows = flows_for(meters, np.random.default_rng(4), times)
    values = indexes(flows)
    frozen = (times >= T0 + 3 * 86_400 + 8 * 3600) & (times < T0 + 3 * 86_400 + 14 * 3600)
    values[1, frozen] = values[1, np.flatnonzero(frozen)[0]]
    events = detect_window(meters, arrays(meters, times, values))
    stuck = kinds(events, "stuck")
    assert [f.key for f in stuck] == ["stuck:B-CW"]
    assert any(isinstance(e, Cleared) and e.key == "stuck:B-CW" for e in events)


def test_state_survives_a_restart():
    meters, times = building(), grid(4)
    flows = flows_for(meters, np.random.default_rng(5), times)
    flows[2, times > T0 + 2 * 86_400] += 0.01 * STEP / 3600
    values = indexes(flows)
    half = times.size // 2
    whole = Detector(meters)
    first = Detector(meters)
    out_whole, out_split = [], []
    for k, moment in enumerate(times):
        batch = arrays(meters, times[k : k + 1], values[:, k : k + 1])
        out_whole += whole.feed(batch) + whole.tick(int(moment))
        if k == half:
            first = Detector.restore(meters, json.loads(json.dumps(first.state_dict())))
        out_split += first.feed(batch) + first.tick(int(moment))
    assert out_split == out_whole
    assert kinds(out_whole, "leak")
    with pytest.raises(ValueError, match="does not match"):
        Detector.restore(meters[:3], whole.state_dict())


def test_robust_pieces():
    history = np.array([[1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0]])
    assert robust_z(np.array([1.0]), history)[0] == pytest.approx(0.0)
    assert robust_z(np.array([3.0]), history)[0] > 10
    base, thr = night_baseline(
        np.array([[0.01, 0.012, 0.011, np.nan]]), np.array([3]), np.array([0.008]), 5.0
    )
    assert base[0] == pytest.approx(0.011) and thr[0] == pytest.approx(0.008)


@pytest.fixture(scope="module")
def city_run():
    """A quiet generated city over a holiday (8 March) and changing weather, run through the
    detector, with one apartment using three times its usual electricity for three days."""
    scenario = build_scenario(seed=9, buildings=3, districts=1, days=20, fault_scale=0.0,
                              start=dt.datetime(2025, 2, 18, 19, tzinfo=dt.UTC))  # fmt: skip
    frame = scenario.readings(scenario.config.start, scenario.config.start + dt.timedelta(days=20))
    row = next(n for n, m in enumerate(scenario.meters) if m.id.endswith("A005-EL"))
    values = frame.values.copy()
    used = np.diff(values[row], prepend=values[row, 0])
    window = (frame.times >= frame.times[0] + 16 * 86_400) & (
        frame.times < frame.times[0] + 19 * 86_400
    )
    values[row] = values[row, 0] + np.cumsum(np.where(window, 3 * used, used))
    events = detect_window(scenario.meters, arrays(list(scenario.meters), frame.times, values))
    return scenario.meters[row].id, events


def test_abnormal_consumption_is_found_and_normal_life_is_not(city_run):
    meter_id, events = city_run
    findings = [e for e in events if isinstance(e, Finding)]
    assert [f.key for f in findings if f.kind == "abnormal"] == [f"abnormal:{meter_id}"]
    # the night-flow leak rule may rarely fire on a busy holiday night; nothing else may
    assert [f for f in findings if f.kind not in ("abnormal", "leak")] == []
