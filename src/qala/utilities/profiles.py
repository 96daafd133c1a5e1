"""Realistic consumption profiles for generated cities: daily, weekly and seasonal shapes per
resource under the climate, daylight and holidays of northern Kazakhstan (numpy, vectorised).

Times are ``int64`` arrays of UTC epoch seconds; every function is a pure function of its
arguments and a seed, so a window generated twice, or in pieces, gives the same numbers.
Kazakhstan keeps one time zone, UTC+5, since March 2024. Standard load profiles such as
demandlib's BDEW ones were considered and not used: they are German (calendar, climate, 15-min
grid) and bring pandas; the shapes here are small parametric tables that say what they model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

RESOURCES = ("cold_water", "hot_water", "heat", "electricity", "gas")
WATER = ("cold_water", "hot_water")
UNITS = {"cold_water": "m3", "hot_water": "m3", "heat": "Gcal", "electricity": "kWh", "gas": "m3"}
UTC_OFFSET_S = 5 * 3600
LATITUDE = 52.35  # Stepnogorsk; Astana is 51.17
LONGITUDE = 71.89
DAY_S = 86_400

# Public holidays with a fixed date (Kurban Ait moves with the lunar calendar and is left out).
FIXED_HOLIDAYS = frozenset(
    {(1, 1), (1, 2), (1, 7), (3, 8), (3, 21), (3, 22), (3, 23), (5, 1), (5, 7), (5, 9), (7, 6)}
    | {(8, 30), (10, 25), (12, 16)}
)
# Mean air temperature per month, °C (Astana climate normals, rounded).
MONTHLY_MEAN_C = (-14.5, -13.9, -6.8, 5.1, 13.4, 19.2, 20.7, 18.3, 11.6, 3.8, -5.5, -11.7)
HEATING_FROM = (10, 15)  # the heating season runs 15 October – 15 April
HEATING_UNTIL = (4, 15)
INDOOR_C = 18.0

# Relative activity at home by local hour: weekdays peak before work and in the evening,
# weekends and holidays start later and stay busier at midday.
WEEKDAY_SHAPE = np.array(
    (0.25, 0.15, 0.12, 0.12, 0.18, 0.6, 1.8, 2.6, 2.0, 1.1, 0.9, 0.9,
     1.0, 0.95, 0.8, 0.8, 0.95, 1.3, 1.8, 2.1, 2.2, 1.9, 1.3, 0.7)
)  # fmt: skip
WEEKEND_SHAPE = np.array(
    (0.4, 0.25, 0.15, 0.12, 0.12, 0.2, 0.4, 0.9, 1.6, 2.1, 1.9, 1.6,
     1.5, 1.4, 1.2, 1.1, 1.2, 1.4, 1.8, 2.0, 2.0, 1.8, 1.3, 0.8)
)  # fmt: skip
COOKING_SHAPE = np.array(
    (0.05, 0.02, 0.02, 0.02, 0.05, 0.3, 1.6, 2.2, 1.2, 0.6, 0.6, 1.0,
     1.8, 1.4, 0.6, 0.5, 0.8, 1.6, 2.6, 2.4, 1.4, 0.7, 0.3, 0.1)
)  # fmt: skip


@dataclass(frozen=True)
class Calendar:
    """Time features of a grid of instants: what every profile is a function of."""

    times: Ints
    local_hour: Floats  # 0 ≤ h < 24, fractional
    rest_day: Bools  # Saturday, Sunday or a public holiday
    holiday: Bools
    day_of_year: Floats
    temperature: Floats  # outdoor air, °C
    darkness: Floats  # 0 in daylight … 1 at night
    heating: Bools  # inside the heating season


def local_days(times: Ints) -> Ints:
    """Local (UTC+5) day number since 1970-01-01 of each instant."""
    return (times + UTC_OFFSET_S) // DAY_S


def _month_day(days: Ints) -> tuple[Ints, Ints]:
    dates = days.astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    month = months.astype(np.int64) % 12 + 1
    day = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    return month, day


def holidays(days: Ints) -> Bools:
    """Whether each local day is a fixed-date public holiday of Kazakhstan."""
    month, day = _month_day(days)
    codes = month * 100 + day
    fixed = np.array([m * 100 + d for m, d in FIXED_HOLIDAYS])
    return np.isin(codes, fixed)


def heating_season(days: Ints) -> Bools:
    """Whether each local day falls inside the heating season (15 Oct – 15 Apr)."""
    month, day = _month_day(days)
    codes = month * 100 + day
    start = HEATING_FROM[0] * 100 + HEATING_FROM[1]
    end = HEATING_UNTIL[0] * 100 + HEATING_UNTIL[1]
    return (codes >= start) | (codes < end)


def weather_anomaly(days: Floats, seed: int) -> Floats:
    """Deviation from the climate normal, °C: a few slow random waves, so cold snaps and thaws
    of several days appear and the value at any instant depends on the seed only."""
    rng = np.random.default_rng([seed, 7_001])
    periods = np.array([2.7, 4.3, 6.9, 11.0, 17.0])
    amplitudes = np.array([1.5, 2.5, 3.0, 3.0, 2.0])
    phases = rng.uniform(0.0, 2 * np.pi, periods.size)
    waves = np.sin(2 * np.pi * days[:, None] / periods[None, :] + phases[None, :])
    return np.asarray(waves @ amplitudes, dtype=np.float64)


def outdoor_temperature(times: Ints, seed: int) -> Floats:
    """Outdoor air temperature: monthly normals, a daily swing (coldest near 05:00, warmest near
    15:00 local) and the seeded weather anomaly."""
    days = (times + UTC_OFFSET_S) / DAY_S
    day_of_year = (days - 0.0) % 365.25
    mid_months = (np.arange(12) + 0.5) * 365.25 / 12
    normals = np.interp(
        day_of_year,
        np.concatenate(([mid_months[-1] - 365.25], mid_months, [mid_months[0] + 365.25])),
        np.concatenate(([MONTHLY_MEAN_C[-1]], MONTHLY_MEAN_C, [MONTHLY_MEAN_C[0]])),
    )
    hour = (days % 1.0) * 24
    swing = 4.5 * np.cos(2 * np.pi * (hour - 15.0) / 24)
    return np.asarray(normals + swing + weather_anomaly(days, seed), dtype=np.float64)


def darkness(times: Ints, latitude: float = LATITUDE, longitude: float = LONGITUDE) -> Floats:
    """How dark it is outside (0 sun above 3°, 1 below −6°) from the solar elevation."""
    days = times / DAY_S
    day_of_year = (days + 0.0) % 365.25
    declination = np.radians(-23.44) * np.cos(2 * np.pi * (day_of_year + 10) / 365.25)
    solar_hour = (days % 1.0) * 24 + longitude / 15.0
    hour_angle = np.radians(15.0 * (solar_hour - 12.0))
    lat = np.radians(latitude)
    sin_elevation = np.sin(lat) * np.sin(declination) + np.cos(lat) * np.cos(declination) * np.cos(
        hour_angle
    )
    elevation = np.degrees(np.arcsin(np.clip(sin_elevation, -1.0, 1.0)))
    return np.asarray(np.clip((3.0 - elevation) / 9.0, 0.0, 1.0), dtype=np.float64)


def calendar(times: Ints, seed: int) -> Calendar:
    """All time features of ``times`` (UTC epoch seconds)."""
    days = local_days(times)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    holiday = holidays(days)
    local = (times + UTC_OFFSET_S) % DAY_S / 3600.0
    return Calendar(
        times=times,
        local_hour=local,
        rest_day=(weekday >= 5) | holiday,
        holiday=holiday,
        day_of_year=((times + UTC_OFFSET_S) / DAY_S) % 365.25,
        temperature=outdoor_temperature(times, seed),
        darkness=darkness(times),
        heating=heating_season(days),
    )


def activity(cal: Calendar, shape: str = "home") -> Floats:
    """Relative activity (mean about 1 over a day) at each instant, weekday or rest day."""
    hour = cal.local_hour.astype(np.int64) % 24
    if shape == "cooking":
        table = COOKING_SHAPE / COOKING_SHAPE.mean()
        return np.asarray(table[hour], dtype=np.float64)
    weekday = WEEKDAY_SHAPE / WEEKDAY_SHAPE.mean()
    weekend = WEEKEND_SHAPE / WEEKEND_SHAPE.mean()
    return np.asarray(np.where(cal.rest_day, weekend[hour], weekday[hour]), dtype=np.float64)


def event_volumes(
    rng: np.random.Generator, rates: Floats, mean_volume: float, shape: float = 2.0
) -> Floats:
    """Volumes drawn by a Poisson process of use events (a flush, a shower, a burner lit):
    ``rates`` are expected events per step, each event Gamma(shape)-distributed with
    ``mean_volume``; most steps at night stay exactly zero, as real meters show."""
    counts = rng.poisson(rates)
    volumes = np.zeros(rates.shape)
    used = counts > 0
    volumes[used] = rng.gamma(counts[used] * shape, mean_volume / shape)
    return volumes


def water_use(
    rng: np.random.Generator, cal: Calendar, scale: Floats, step_s: int, hot: bool
) -> Floats:
    """Apartment water per step, m³ (apartments × steps): ~250 L/day cold and ~160 L/day hot for
    an average household, a little more in summer for cold water."""
    events_per_day, litres = (26.0, 6.0) if hot else (36.0, 7.0)
    summer = 1.0 + 0.1 * np.cos(2 * np.pi * (cal.day_of_year - 200) / 365.25)
    per_step = activity(cal) * summer * events_per_day * step_s / DAY_S
    rates = scale[:, None] * per_step[None, :]
    # what a DN15 pipe can pass at most (3 m³/h)
    return np.minimum(event_volumes(rng, rates, litres / 1000.0), 3.0 * step_s / 3600)


def night_dishwasher(rng: np.random.Generator, cal: Calendar, owners: Bools, step_s: int) -> Floats:
    """Cold water of dishwashers on a night timer (fills about 01:10, 01:35, 02:05, 02:30 local)
    in some apartments on some nights: normal night use that is not a leak."""
    days = local_days(cal.times)
    out = np.zeros((owners.size, cal.times.size))
    fills = (1 + 10 / 60, 1 + 35 / 60, 2 + 5 / 60, 2 + 30 / 60)
    for day in np.unique(days):
        day_rng = np.random.default_rng([int(rng.integers(1 << 31)), int(day)])
        running = owners & (day_rng.random(owners.size) < 0.4)
        if not running.any():
            continue
        in_day = days == day
        for fill in fills:
            steps = np.flatnonzero(in_day & (np.abs(cal.local_hour - fill) < step_s / 7200))
            if steps.size:
                out[np.ix_(running, steps[:1])] += 0.004
    return out


def electricity_use(rng: np.random.Generator, cal: Calendar, scale: Floats, step_s: int) -> Floats:
    """Apartment electricity per step, kWh: standby and fridge, activity, lighting after dark,
    a little more in winter; ~6–8 kWh/day for an average household, never zero."""
    winter = 1.0 + 0.12 * np.cos(2 * np.pi * (cal.day_of_year - 15) / 365.25)
    evening = np.clip(activity(cal), 0.0, 2.0)
    kw = 0.09 + 0.18 * activity(cal) * winter + 0.12 * cal.darkness * evening
    noise = rng.lognormal(-0.08, 0.4, (scale.size, cal.times.size))
    return np.asarray(scale[:, None] * kw[None, :] * noise * step_s / 3600, dtype=np.float64)


def gas_use(rng: np.random.Generator, cal: Calendar, scale: Floats, step_s: int) -> Floats:
    """Apartment gas for cooking per step, m³: ~0.5 m³/day, more in the cold season."""
    winter = 1.0 + 0.15 * np.cos(2 * np.pi * (cal.day_of_year - 15) / 365.25)
    per_step = activity(cal, "cooking") * winter * 12.0 * step_s / DAY_S
    volumes = event_volumes(rng, scale[:, None] * per_step[None, :], 0.04)
    return np.minimum(volumes, 1.2 * step_s / 3600)  # a four-burner stove at full flame


def heat_use(rng: np.random.Generator, cal: Calendar, coefficient: Floats, step_s: int) -> Floats:
    """Building space heating per step, Gcal: proportional to (18 °C − outdoor) inside the heating
    season (``coefficient`` in Gcal/h per kelvin), zero outside it."""
    demand = np.where(cal.heating, np.clip(INDOOR_C - cal.temperature, 0.0, None), 0.0)
    noise = rng.normal(1.0, 0.03, (coefficient.size, cal.times.size))
    return np.asarray(
        coefficient[:, None] * demand[None, :] * noise * step_s / 3600, dtype=np.float64
    )


def common_use(
    rng: np.random.Generator, cal: Calendar, resource: str, size: Floats, step_s: int
) -> Floats:
    """What a building uses itself, per step (stair cleaning and summer watering; lifts, pumps
    and stair lights); ``size`` is the number of apartments."""
    hours = step_s / 3600
    n = size[:, None]
    if resource == "cold_water":
        cleaning = ((cal.local_hour >= 8) & (cal.local_hour < 11) & ~cal.rest_day) * 0.06
        summer = (cal.day_of_year > 130) & (cal.day_of_year < 260)
        evening = (cal.local_hour >= 20) & (cal.local_hour < 22)
        watering = (summer & ((cal.local_hour >= 6) & (cal.local_hour < 8) | evening)) * 0.15
        base = (cleaning + watering)[None, :] * hours * (n / 40)
        return np.asarray(base * rng.lognormal(0.0, 0.3, base.shape), dtype=np.float64)
    if resource == "electricity":
        kw = 0.3 + 0.25 * activity(cal) + 0.4 * cal.darkness
        return np.asarray((n / 40) * kw[None, :] * hours, dtype=np.float64)
    return np.zeros((size.size, cal.times.size))
