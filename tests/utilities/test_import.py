"""Import of buildings and meters: good rows in, bad rows reported by row and field, nothing
half-written, dry-run changes nothing, importing again updates instead of duplicating."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from qala.core.cities import CityContext
from qala.hub import client as hub
from qala.utilities import importing, service

BUILDINGS = """code;address;district;lat;lon;floors;apartments;residents;year_built
B1;Abay avenue 10;centre;51,151;71,452;9;72;180;1984
B2;Abay avenue 12;centre;51.152;71.453;5;60;150;1978
B3;;centre;51.153;71.454;5;60;150;1978
B4;Kenesary street 3;nowhere;51.154;71.455;5;60;150;1978
B5;Kenesary street 5;centre;95;71.456;five;60;150;1978
"""


def errors_by_row(report: importing.ImportReport) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for error in report.errors:
        found.setdefault(error.row, set()).add(error.field)
    return found


def test_good_rows_go_in_bad_rows_are_reported(db: Session, ctx: CityContext) -> None:
    report = importing.import_buildings(db, ctx, "csv", BUILDINGS)
    assert (report.rows, report.created, report.updated, report.rejected) == (5, 2, 0, 3)
    assert errors_by_row(report) == {3: {"address"}, 4: {"district"}, 5: {"lat", "floors"}}
    buildings, total = service.list_buildings(db, ctx)
    assert total == 2
    first = next(b for b in buildings if b.code == "B1")
    assert (first.lat, first.lon, first.residents, first.year_built) == (51.151, 71.452, 180, 1984)


def test_import_again_updates_and_dry_run_changes_nothing(db: Session, ctx: CityContext) -> None:
    importing.import_buildings(db, ctx, "csv", BUILDINGS)
    changed = "code,address,residents\nB1,Abay avenue 10,200\nB9,New street 1,40\n"
    preview = importing.import_buildings(db, ctx, "csv", changed, dry_run=True)
    assert (preview.dry_run, preview.created, preview.updated) == (True, 1, 1)
    assert service.list_buildings(db, ctx)[1] == 2
    report = importing.import_buildings(db, ctx, "csv", changed)
    assert (report.created, report.updated, report.rejected) == (1, 1, 0)
    buildings = {b.code: b for b in service.list_buildings(db, ctx)[0]}
    assert buildings["B1"].residents == 200 and buildings["B1"].floors == 9  # kept
    assert set(buildings) == {"B1", "B2", "B9"}


def test_missing_columns_and_unreadable_files(db: Session, ctx: CityContext) -> None:
    report = importing.import_buildings(db, ctx, "csv", "name,street\nx,y\n")
    assert report.created == 0 and {e.field for e in report.errors} >= {"code", "address"}
    assert all(e.row == 0 for e in report.errors)
    broken = importing.import_buildings(db, ctx, "geojson", "{not json")
    assert [(e.row, e.field) for e in broken.errors] == [(0, "content")]
    assert importing.import_buildings(db, ctx, "csv", "x12345678").rejected == 0


def test_geojson_buildings_take_their_place_from_the_geometry(
    db: Session, ctx: CityContext
) -> None:
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [71.46, 51.16]},
                "properties": {"code": "G1", "address": "Mangilik El 8", "residents": 90},
            },
            {
                "type": "Feature",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[71.0, 51.0], [71.2, 51.0], [71.2, 51.2], [71.0, 51.2], [71.0, 51.0]]
                    ],
                },
                "properties": {"code": "G2", "address": "Turan 1"},
            },
            {"type": "Feature", "geometry": None, "properties": None},
        ],
    }
    report = importing.import_buildings(db, ctx, "geojson", json.dumps(collection))
    assert (report.created, report.rejected) == (2, 0)
    assert [(e.row, e.field) for e in report.errors] == [(3, "properties")]
    buildings = {b.code: b for b in service.list_buildings(db, ctx)[0]}
    assert (buildings["G1"].lon, buildings["G1"].lat) == (71.46, 51.16)
    assert (round(buildings["G2"].lon or 0, 3), round(buildings["G2"].lat or 0, 3)) == (71.1, 51.1)


def test_meters_import_opens_accounts_and_reports_bad_rows(db: Session, ctx: CityContext) -> None:
    importing.import_buildings(db, ctx, "csv", BUILDINGS)
    meters = """serial,resource,level,building_code,account,apartment,residents,installed_on
IN-1,cold_water,building,B1,,,,2023-05-01
AP-1,cold_water,apartment,B1,100-1,1,3,2023-05-02
AP-2,cold_water,apartment,B1,100-2,2,2,
AP-3,steam,apartment,B1,100-3,3,2,
AP-4,cold_water,apartment,B77,100-4,4,2,
AP-5,cold_water,apartment,B1,100-5,5,2,31.02.2024
AP-1,cold_water,apartment,B1,100-1,1,3,2023-06-01
"""
    report = importing.import_meters(db, ctx, "csv", meters)
    assert (report.created, report.updated, report.rejected) == (3, 1, 3)
    assert errors_by_row(report) == {4: {"resource"}, 5: {"building_code"}, 6: {"installed_on"}}
    found = {m.serial: m for m in service.list_meters(db, ctx)[0]}
    assert set(found) == {"IN-1", "AP-1", "AP-2"}
    assert found["AP-1"].parent_id == found["IN-1"].id
    assert str(found["AP-1"].installed_on) == "2023-06-01"
    accounts = {a.number: a for a in service.list_accounts(db, ctx)}
    assert set(accounts) == {"100-1", "100-2"}  # row 6's account went back with its row
    assert accounts["100-1"].residents == 3
    assert hub.entity_ids(db, ctx.id, [m.entity_id for m in found.values()]) == {
        m.entity_id for m in found.values()
    }


def test_a_meter_cannot_change_what_it_measures(db: Session, ctx: CityContext) -> None:
    importing.import_meters(db, ctx, "csv", "serial,resource\nM1,heat\n")
    report = importing.import_meters(db, ctx, "csv", "serial,resource\nM1,gas\n")
    assert [(e.row, e.field) for e in report.errors] == [(1, "resource")]
