"""hpc.parallelcluster.instance_prices run as Ansible runs it against the AWS API emulator, whose Price
List API and spot price history serve the local provider's price table."""

import datetime
import json
import os

import boto3
import pytest
from emulator import LOCAL_CLOUD_FILES, moto_endpoint
from module_runner import run_module

from ansible_collections.hpc.parallelcluster.plugins.module_utils.instance_prices import on_demand_price, spot_mean
from ansible_collections.hpc.parallelcluster.plugins.modules import instance_prices

TABLE = json.load(open(os.path.join(LOCAL_CLOUD_FILES, "price_table.json"), encoding="utf-8"))
US_EAST_1 = TABLE["regions"]["us-east-1"]
CONFIG = {"Scheduling": {"SlurmQueues": [
    {"Name": "compute", "CapacityType": "ONDEMAND", "ComputeResources": [{"Name": "c5n", "InstanceType": "c5n.large"}]},
    {"Name": "spot", "CapacityType": "SPOT", "ComputeResources": [{"Name": "m5", "InstanceType": "m5.large"}]},
]}}


@pytest.fixture(scope="module")
def endpoint():
    with moto_endpoint() as url:
        yield url


def price(endpoint, capsys, monkeypatch, **args):
    args = dict(dict(region="us-east-1", endpoint_url=endpoint, access_key="testing", secret_key="testing"), **args)
    return run_module(instance_prices, args, None, capsys, monkeypatch)


def test_each_queue_is_priced_with_its_purchase_option_from_the_emulators_table(endpoint, capsys, monkeypatch):
    out = price(endpoint, capsys, monkeypatch, cluster_config=CONFIG)
    assert not out.get("failed"), out
    assert out["prices"] == {"c5n.large": {"on_demand": US_EAST_1["on_demand"]["c5n.large"]},
                             "m5.large": {"spot": US_EAST_1["spot"]["m5.large"]}}
    assert out["missing"] == [] and "warnings" not in out
    assert out["sources"]["on_demand"] == "AWS Price List API at %s, us-east-1 prices published %s" % (
        endpoint, TABLE["publication_date"])
    # One point per availability zone of the table's figure.
    assert out["sources"]["spot"] == "EC2 spot price history at %s of us-east-1, mean of 3 points over 7 days" % endpoint
    assert out["price_source"] == "on_demand: %s; spot: %s" % (out["sources"]["on_demand"], out["sources"]["spot"])
    assert out["changed"] is False


def test_listed_types_get_both_options_and_unknown_ones_are_named(endpoint, capsys, monkeypatch):
    out = price(endpoint, capsys, monkeypatch, instance_types=["t3.micro", "x9.huge"], spot_days=1)
    assert out["prices"] == {"t3.micro": {"on_demand": US_EAST_1["on_demand"]["t3.micro"],
                                          "spot": US_EAST_1["spot"]["t3.micro"]}}
    assert out["missing"] == ["x9.huge (on_demand)", "x9.huge (spot)"]
    # AnsibleAWSModule.warn passes through AnsibleModule.warn: both are recorded.
    assert set(out["warnings"]) == {"no price for x9.huge (on_demand), x9.huge (spot) in us-east-1"}
    assert "over 1 days" in out["sources"]["spot"]


def test_a_region_the_table_has_no_prices_for_gets_none(endpoint, capsys, monkeypatch):
    out = price(endpoint, capsys, monkeypatch, region="eu-west-1", cluster_config=CONFIG)
    assert out["prices"] == {} and out["sources"] == {} and out["price_source"] == "no prices found"
    assert out["missing"] == ["c5n.large (on_demand)", "m5.large (spot)"]


def test_bad_spot_days_is_refused_naming_the_option(endpoint, capsys, monkeypatch):
    out = price(endpoint, capsys, monkeypatch, instance_types=["t3.micro"], spot_days=0)
    assert out["failed"] and out["msg"].startswith("spot_days: 0 is not a number of days")


def test_price_list_pages_and_filters_are_served_as_aws_serves_them(endpoint):
    client = boto3.client("pricing", region_name="us-east-1", endpoint_url=endpoint,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    filters = [{"Type": "ANY_OF", "Field": "instanceType", "Value": "c5n.large, c5n.xlarge, t3.micro"},
               {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
               {"Type": "NONE_OF", "Field": "instanceType", "Value": "t3.micro"}]
    pages = list(client.get_paginator("get_products").paginate(
        ServiceCode="AmazonEC2", Filters=filters, FormatVersion="aws_v1", PaginationConfig={"PageSize": 1}))
    assert len(pages) == 2
    documents = [json.loads(text) for page in pages for text in page["PriceList"]]
    assert sorted(d["product"]["attributes"]["instanceType"] for d in documents) == ["c5n.large", "c5n.xlarge"]
    assert on_demand_price(documents[:1]) == (US_EAST_1["on_demand"]["c5n.large"], TABLE["publication_date"])
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_products(ServiceCode="AmazonS3")


def test_other_ec2_calls_still_reach_the_emulator(endpoint):
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=endpoint,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    assert any(zone["ZoneName"] == "us-east-1a" for zone in ec2.describe_availability_zones()["AvailabilityZones"])
    history = ec2.describe_spot_price_history(InstanceTypes=["c5n.large"], AvailabilityZone="us-east-1b",
                                              ProductDescriptions=["Linux/UNIX"])["SpotPriceHistory"]
    assert [(p["AvailabilityZone"], float(p["SpotPrice"])) for p in history] == [("us-east-1b", US_EAST_1["spot"]["c5n.large"])]
    assert ec2.describe_spot_price_history(InstanceTypes=["c5n.large"], ProductDescriptions=["Windows"])["SpotPriceHistory"] == []


def test_the_highest_of_several_hourly_prices_is_taken_and_other_units_ignored():
    def document(usd, unit="Hrs", date="d"):
        return {"publicationDate": date, "terms": {"OnDemand": {"t": {"priceDimensions": {"p": {
            "unit": unit, "pricePerUnit": {"USD": usd}}}}}}}
    assert on_demand_price([document("0.1", date="a"), document("0.3", date="b"), document("9", unit="Quantity")]) == (0.3, "b")
    assert on_demand_price([document("0.0000000000")]) == (None, None)
    assert on_demand_price([]) == (None, None)


def test_spot_mean_is_per_type_over_every_zone():
    now = datetime.datetime(2026, 11, 1)
    points = [{"InstanceType": "a", "SpotPrice": "0.1", "Timestamp": now}, {"InstanceType": "a", "SpotPrice": "0.2"},
              {"InstanceType": "b", "SpotPrice": "1"}]
    assert spot_mean(points) == {"a": (0.15, 2), "b": (1.0, 1)}
