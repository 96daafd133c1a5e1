"""The generated scenario: deterministic, physically consistent, labelled."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from qala.utilities import profiles as pf
from qala.utilities.scenario import ScenarioConfig, build_scenario
from qala.utilities.scenario_faults import write_truth

START = dt.datetime(2025, 2, 9, 19, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def quiet_city():
    return build_scenario(seed=5, buildings=3, districts=1, days=3, fault_scale=0.0)


def test_same_seed_same_readings_and_windows_join_up(quiet_city):
    again = build_scenario(seed=5, buildings=3, districts=1, days=3, fault_scale=0.0)
    whole = again.readings(START, START + dt.timedelta(days=2))
    first = quiet_city.readings(START, START + dt.timedelta(hours=30))
    second = quiet_city.readings(START + dt.timedelta(hours=30), START + dt.timedelta(days=2))
    joined = np.concatenate([first.values, second.values], axis=1)
    assert np.array_equal(np.concatenate([first.times, second.times]), whole.times)
    assert np.allclose(joined, whole.values, equal_nan=True)
    other = build_scenario(seed=6, buildings=3, districts=1, days=3, fault_scale=0.0)
    assert not np.allclose(other.readings(START, START + dt.timedelta(hours=2)).values[:5],
                           whole.values[:5, :24])  # fmt: skip


def test_hierarchy_adds_up_with_small_losses(quiet_city):
    frame = quiet_city.readings(START, START + dt.timedelta(days=1))
    used = np.nan_to_num(frame.values[:, -1] - frame.values[:, 0])
    row = {m.id: n for n, m in enumerate(quiet_city.meters)}
    for meter in quiet_city.meters:
        if meter.level == "apartment" or meter.resource == "heat":
            continue
        children = [row[m.id] for m in quiet_city.meters if m.parent_id == meter.id]
        below = used[children].sum()
        assert below > 0
        assert below * 0.98 <= used[row[meter.id]] <= below * 1.15, meter.id


def test_indexes_only_grow_without_faults_and_apartments_rest_at_night(quiet_city):
    frame = quiet_city.readings(START, START + dt.timedelta(days=2))
    steps = np.diff(frame.values, axis=1)
    assert np.nanmin(steps) >= 0
    local = (frame.times[1:] + pf.UTC_OFFSET_S) % 86_400 / 3600
    water = [
        n
        for n, m in enumerate(quiet_city.meters)
        if m.level == "apartment" and m.resource == "cold_water"
    ]
    night = steps[np.ix_(water, np.flatnonzero((local >= 2) & (local < 5)))]
    evening = steps[np.ix_(water, np.flatnonzero((local >= 19) & (local < 22)))]
    assert (night == 0).mean() > 0.8
    assert evening.mean() > 4 * night.mean()


def test_heat_follows_the_season_and_the_cold():
    winter = np.arange(0, 86_400 * 3, 3600, dtype=np.int64) + int(START.timestamp())
    summer = winter + 150 * 86_400
    rng = np.random.default_rng(1)
    coefficient = np.array([0.004])
    cold = pf.heat_use(rng, pf.calendar(winter, 1), coefficient, 3600)
    warm = pf.heat_use(rng, pf.calendar(summer, 1), coefficient, 3600)
    assert cold.sum() > 0 and warm.sum() == 0
    assert pf.holidays(
        pf.local_days(np.array([int(dt.datetime(2025, 3, 22, 12, tzinfo=dt.UTC).timestamp())]))
    )[0]


def test_faults_are_labelled_and_written(tmp_path):
    scenario = build_scenario(seed=2, buildings=6, days=30)
    kinds = {fault.kind for fault in scenario.faults}
    assert {"leak", "outage", "stuck", "negative", "gap", "spike", "reverse_flow"} <= kinds
    ids = {m.id for m in scenario.meters}
    for fault in scenario.faults:
        assert set(fault.meter_ids) <= ids
        assert fault.start >= START + dt.timedelta(days=scenario.config.warmup_days)
    write_truth(list(scenario.faults), tmp_path / "truth.json")
    write_truth(list(scenario.faults), tmp_path / "truth.csv")
    rows = json.loads((tmp_path / "truth.json").read_text())
    assert len(rows) == len(scenario.faults)
    assert (tmp_path / "truth.csv").read_text().count("\n") == len(rows) + 1


def test_a_stuck_meter_reports_a_frozen_index():
    scenario = build_scenario(ScenarioConfig(seed=3, buildings=6, days=30))
    fault = next(f for f in scenario.faults if f.kind == "stuck" and f.end is not None)
    row = [m.id for m in scenario.meters].index(fault.meter_ids[0])
    frame = scenario.readings(fault.start, fault.end)
    assert np.nanmax(frame.values[row]) == np.nanmin(frame.values[row])
