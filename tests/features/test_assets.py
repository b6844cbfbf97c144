"""Asset service due by time or by usage, against hand-computed values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.catalogue import Product
from engine.events import ServiceVisit, UsageReading
from tests.features.builders import bought, event, facts, of

HEAT_PUMP = "heat-pump-aw12"  # every 730 days or 4,000 run hours, whichever comes first


def _reading(days_ago: float, value: float, meter: str = "run_hours", asset_id: str = "", product: str = HEAT_PUMP):
    return event(days_ago, UsageReading(product_id=product, asset_id=asset_id, meter=meter, value=value))


def _asset(*events) -> dict:
    [asset] = of(facts(*events), "asset")
    return asset


# 1,000 hours every 100 days from 390 days ago: 10 hours a day, 3,000 hours in all.
STEADY = [(390, 100), (290, 1100), (190, 2100), (90, 3100)]


def test_an_asset_never_serviced_counts_usage_from_its_first_reading_and_is_due_by_usage():
    asset = _asset(bought(400, HEAT_PUMP), *(_reading(d, v) for d, v in STEADY))

    assert asset["usage_since_service"] == 3000
    assert asset["usage_per_day"] == 10
    # (4,000 - 3,000) / 10 = 100 days from the latest reading, 90 days ago; by time: 730 - 400 = 330
    assert (asset["days_until_service"], asset["due_by"]) == (10, "usage")


def test_usage_counts_from_the_latest_reading_at_or_before_the_last_service():
    asset = _asset(
        bought(400, HEAT_PUMP),
        *(_reading(d, v) for d, v in STEADY),
        event(150, ServiceVisit(product_id=HEAT_PUMP)),
    )

    assert asset["usage_since_service"] == 1000  # 3,100 - 2,100 (the reading 190 days ago)
    assert asset["usage_per_day"] == 10  # the rate reads every reading, before the service too
    # by usage: 3,000 / 10 - 90 = 210; by time: 730 - 150 = 580
    assert (asset["days_until_service"], asset["due_by"]) == (210, "usage")


def test_light_use_leaves_the_asset_due_by_time():
    asset = _asset(bought(400, HEAT_PUMP), _reading(300, 0), _reading(100, 200))

    assert asset["usage_per_day"] == 1
    assert (asset["days_until_service"], asset["due_by"]) == (330, "time")  # by usage: 3,800 - 100 = 3,700


def test_a_counter_that_goes_down_was_reset_and_counts_again_from_zero():
    readings = [_reading(40, 100), _reading(30, 600), _reading(20, 50), _reading(10, 550)]

    asset = _asset(bought(50, HEAT_PUMP), *readings)

    assert asset["usage_since_service"] == 1050  # 500 + 50 + 500
    assert asset["usage_per_day"] == 35  # 1,050 over 30 days
    assert asset["days_until_service"] == round(2950 / 35 - 10, 2)


def test_one_reading_gives_no_rate_and_no_usage_due():
    asset = _asset(bought(100, HEAT_PUMP), _reading(10, 5000))

    assert asset["usage_since_service"] == 0
    assert "usage_per_day" not in asset
    assert (asset["days_until_service"], asset["due_by"]) == (630, "time")


def test_an_idle_meter_is_never_due_by_usage():
    asset = _asset(bought(100, HEAT_PUMP), _reading(50, 70), _reading(10, 70))

    assert asset["usage_per_day"] == 0
    assert asset["due_by"] == "time"


def test_only_readings_of_the_catalogue_meter_or_of_none_count_and_only_for_this_asset():
    purchase = bought(100, HEAT_PUMP)
    other_asset = f"{purchase.event_id}/9"
    readings = [
        _reading(90, 0, meter=""),
        _reading(80, 9999, meter="water_litres"),
        _reading(70, 9999, asset_id=other_asset),
        _reading(60, 300),
        _reading(120, 50),  # before the purchase: another unit's
    ]

    asset = _asset(purchase, *readings)

    assert asset["usage_since_service"] == 300
    assert asset["usage_per_day"] == 10


def test_an_asset_with_no_usage_interval_shows_usage_but_is_due_by_time():
    asset = _asset(
        bought(100, "boiler-ecotherm-30"),
        _reading(50, 0, meter="", product="boiler-ecotherm-30"),
        _reading(10, 80, meter="", product="boiler-ecotherm-30"),
    )

    assert (asset["usage_since_service"], asset["usage_per_day"]) == (80, 2)
    assert (asset["days_until_service"], asset["due_by"]) == (265, "time")


def test_an_asset_without_readings_or_interval_has_no_usage_and_no_due_date():
    asset = _asset(bought(10, "printer-deskjet-2720"))

    assert not {"usage_since_service", "usage_per_day", "days_until_service", "due_by"} & asset.keys()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"kind": "consumable", "service_interval_usage": 10}, "for assets only"),
        ({"kind": "asset", "meter": "pages"}, "set service_interval_usage too"),
    ],
)
def test_the_catalogue_rejects_a_usage_interval_out_of_place(entry, message):
    with pytest.raises(ValidationError, match=message):
        Product.model_validate({"id": "p", "category": "c", **entry})
