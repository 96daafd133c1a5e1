"""Demo data of the utilities module as data: real streets of each demo city, how many
buildings each city gets, and how a day of consumption is shaped."""

from __future__ import annotations

#: Real streets (as addresses are written in Russian) of each demo city. Stepnogorsk, like
#: most mining towns, numbers its houses by microdistrict instead ("{n} мкр., дом {k}").
STREETS: dict[str, tuple[str, ...]] = {
    "astana": (
        "пр. Мангилик Ел",
        "пр. Кабанбай батыра",
        "пр. Туран",
        "ул. Кенесары",
        "пр. Абая",
        "ул. Сыганак",
        "ул. Достык",
        "пр. Республики",
        "ул. Бейбитшилик",
        "ул. Иманова",
        "пр. Сарыарка",
        "ул. Жубанова",
    ),
    "almaty": (
        "пр. Абая",
        "пр. Достык",
        "ул. Толе би",
        "пр. Райымбека",
        "ул. Жандосова",
        "пр. Аль-Фараби",
        "ул. Сатпаева",
        "ул. Гагарина",
        "ул. Байзакова",
        "пр. Сейфуллина",
        "ул. Шевченко",
        "ул. Айтеке би",
    ),
    "shymkent": (
        "пр. Тауке хана",
        "ул. Байтурсынова",
        "пр. Республики",
        "ул. Желтоксан",
        "пр. Кунаева",
        "ул. Казыбек би",
        "ул. Толе би",
        "ул. Момышулы",
    ),
    "aktobe": (
        "пр. Абилкайыр хана",
        "ул. Маресьева",
        "пр. Санкибай батыра",
        "ул. Братьев Жубановых",
        "пр. Алии Молдагуловой",
        "ул. Есет батыра",
    ),
    "karaganda": (
        "пр. Бухар-Жырау",
        "пр. Нуркена Абдирова",
        "ул. Ерубаева",
        "пр. Строителей",
        "ул. Гоголя",
        "пр. Университетский",
        "ул. Алиханова",
    ),
    "pavlodar": (
        "ул. Торайгырова",
        "ул. Естая",
        "ул. Академика Сатпаева",
        "ул. Ломова",
        "ул. Кутузова",
        "ул. Камзина",
        "ул. 1 Мая",
    ),
}
#: Stepnogorsk's districts are its microdistricts and the industrial zone.
MICRODISTRICT_ADDRESS = "{n} мкр., дом {k}"
INDUSTRIAL_ADDRESS = "Промзона, строение {k}"
DEFAULT_STREETS = ("ул. Абая", "ул. Достык", "ул. Независимости", "ул. Сейфуллина")

#: Buildings per demo city (the rest of the cities get DEFAULT_BUILDINGS).
BUILDINGS = {"stepnogorsk": 120}
DEFAULT_BUILDINGS = 48
HISTORY_HOURS = 72

#: Share of a day's water use in each local hour (morning and evening peaks; sums to 1).
WATER_DAY = (
    0.012, 0.008, 0.006, 0.006, 0.008, 0.020, 0.052, 0.075, 0.066, 0.052, 0.046, 0.045,
    0.046, 0.042, 0.040, 0.040, 0.045, 0.055, 0.066, 0.072, 0.068, 0.058, 0.043, 0.035,
)  # fmt: skip
#: Share of a day's electricity use in each local hour (the evening peak).
POWER_DAY = (
    0.025, 0.020, 0.018, 0.018, 0.019, 0.024, 0.038, 0.048, 0.045, 0.038, 0.036, 0.036,
    0.037, 0.036, 0.035, 0.036, 0.040, 0.050, 0.062, 0.070, 0.072, 0.066, 0.052, 0.035,
)  # fmt: skip
#: Daily use per resident (November): cold water m³, heat Gcal, electricity kWh.
PER_RESIDENT_DAY = {"cold_water": 0.133, "heat": 0.018, "electricity": 2.4}
NETWORK_LOSS = 0.09  # what district water meters let in beyond the buildings' input meters
