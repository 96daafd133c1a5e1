"""Assets: buildings, accounts and meters; every meter is a hub entity in the same
transaction; the hierarchy apartment → building → district is filled in; cities never mix."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from qala.core.cities import CityContext
from qala.core.errors import Conflict, InvalidField, NotFound
from qala.hub import client as hub
from qala.utilities import service
from qala.utilities.schemas import BuildingCreate, BuildingUpdate, MeterCreate, MeterUpdate

from .conftest import House


def test_a_meter_is_a_smart_data_models_entity_in_the_hub(
    db: Session, ctx: CityContext, house: House
) -> None:
    water = hub.get_entity(db, ctx.id, house.input.entity_id)
    assert water["type"] == "WaterConsumptionObserved"
    assert water["id"] == "urn:ngsi-ld:WaterConsumptionObserved:B1-IN"
    assert water["serialNumber"] == "B1-IN" and water["waterType"] == "serviceWater"
    assert water["category"] == ["meter"] and water["controlledProperty"] == ["waterConsumption"]
    assert water["location"] == {"type": "Point", "coordinates": [71.45, 51.15]}
    assert water["address"] == {"streetAddress": "Abay avenue B1"}
    flat = hub.get_entity(db, ctx.id, house.flats[0].entity_id)
    assert flat["refParentMeter"] == house.input.entity_id
    power = service.create_meter(
        db, ctx, MeterCreate(serial="E-1", resource="electricity", level="district")
    )
    device = hub.get_entity(db, ctx.id, power.entity_id)
    assert device["type"] == "Device" and device["controlledProperty"] == ["electricityConsumption"]


def test_hierarchy_is_filled_in_both_ways(db: Session, ctx: CityContext, house: House) -> None:
    assert [flat.parent_id for flat in house.flats] == [house.input.id, house.input.id]
    assert house.flats[0].building_id == house.building.id  # taken from the account
    assert house.flats[0].district_id == house.building.district_id
    main = service.create_meter(
        db,
        ctx,
        MeterCreate(serial="D-1", resource="cold_water", level="district", district="centre"),
    )
    db.refresh(house.input)
    assert house.input.parent_id == main.id  # the new district meter adopts the building's
    assert hub.get_entity(db, ctx.id, house.input.entity_id)["refParentMeter"] == main.entity_id


def test_meter_rules_name_the_field(db: Session, ctx: CityContext, house: House) -> None:
    with pytest.raises(InvalidField) as missing:
        service.create_meter(db, ctx, MeterCreate(serial="X1", resource="heat", level="apartment"))
    assert missing.value.extra["errors"][0]["field"] == "building_id"
    with pytest.raises(Conflict) as taken:
        service.create_meter(
            db,
            ctx,
            MeterCreate(
                serial="B1-IN", resource="heat", level="building", building_id=house.building.id
            ),
        )
    assert taken.value.extra["errors"] == [{"field": "serial"}]
    with pytest.raises(InvalidField) as wrong_parent:
        service.update_meter(db, ctx, house.input.id, MeterUpdate(parent_id=house.flats[0].id))
    assert wrong_parent.value.extra["errors"][0]["field"] == "parent_id"
    with pytest.raises(InvalidField) as district:
        service.create_building(db, ctx, BuildingCreate(code="B9", address="x", district="nowhere"))
    assert district.value.extra["errors"][0]["field"] == "district"


def test_status_and_moves_reach_the_hub(db: Session, ctx: CityContext, house: House) -> None:
    service.update_meter(db, ctx, house.flats[0].id, MeterUpdate(status="faulty"))
    assert hub.get_entity(db, ctx.id, house.flats[0].entity_id)["deviceState"] == "faulty"
    service.update_building(db, ctx, house.building.id, BuildingUpdate(lat=51.2, lon=71.5))
    entity = hub.get_entity(db, ctx.id, house.flats[1].entity_id)
    assert entity["location"]["coordinates"] == [71.5, 51.2]


def test_deleting_a_building_removes_its_meters_and_entities(
    db: Session, ctx: CityContext, house: House
) -> None:
    ids = [house.input.entity_id, *(flat.entity_id for flat in house.flats)]
    service.delete_building(db, ctx, house.building.id)
    assert hub.entity_ids(db, ctx.id, ids) == set()
    assert service.list_meters(db, ctx)[1] == 0


def test_another_city_sees_nothing(
    db: Session, ctx: CityContext, other_ctx: CityContext, house: House
) -> None:
    assert service.list_buildings(db, other_ctx) == ([], 0)
    assert service.list_meters(db, other_ctx) == ([], 0)
    with pytest.raises(NotFound):
        service.get_meter(db, other_ctx, house.input.id)
    with pytest.raises(NotFound):
        service.update_building(db, other_ctx, house.building.id, BuildingUpdate(floors=3))
    assert hub.entity_ids(db, other_ctx.id, [house.input.entity_id]) == set()
    # the other city may reuse the same codes and serials
    service.create_building(db, other_ctx, BuildingCreate(code="B1", address="Elsewhere"))
    service.create_meter(db, other_ctx, MeterCreate(serial="B1-IN", resource="cold_water"))
