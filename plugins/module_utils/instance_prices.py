# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""EC2 prices per hour from AWS's own APIs, in the shape slurm_usage's ``prices`` option takes.

On-Demand prices come from the Price List API (GetProducts, AmazonEC2), Spot prices from EC2's spot
price history. The filters pick what a ParallelCluster compute node runs: Linux, shared tenancy, no
pre-installed software, capacity in use. Both APIs are paginated; the callers pass boto3 clients, so
the same code reads AWS and the local emulator.
"""

from __future__ import annotations

import datetime
import json

LINUX_SPOT = "Linux/UNIX"


def on_demand_filters(instance_type, region):
    """GetProducts filters for one Linux On-Demand instance type in a region."""
    fields = (("instanceType", instance_type), ("regionCode", region), ("operatingSystem", "Linux"),
              ("tenancy", "Shared"), ("preInstalledSw", "NA"), ("capacitystatus", "Used"))
    return [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in fields]


def on_demand_price(price_list, currency="USD"):
    """(price per hour, publication date) from GetProducts' documents, or (None, None) when none has an hourly price.

    Several documents for one type and region differ only in attributes the filters leave open; the
    highest price is taken, so that a cost is never under-reported."""
    best, published = None, None
    for document in price_list:
        for term in document.get("terms", {}).get("OnDemand", {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                if dimension.get("unit") != "Hrs" or currency not in dimension.get("pricePerUnit", {}):
                    continue
                price = float(dimension["pricePerUnit"][currency])
                if price > 0 and (best is None or price > best):
                    best, published = price, document.get("publicationDate")
    return best, published


def spot_mean(points):
    """Mean spot price per instance type over the history's points (every zone), and the number of points."""
    sums = {}
    for point in points:
        total, count = sums.get(point["InstanceType"], (0.0, 0))
        sums[point["InstanceType"]] = (total + float(point["SpotPrice"]), count + 1)
    return {t: (round(total / count, 6), count) for t, (total, count) in sums.items()}


def read_on_demand(pricing, instance_types, region, currency="USD"):
    """{type: price}, {type: publication date} and the types without a price."""
    prices, dates, missing = {}, {}, []
    for instance_type in instance_types:
        documents = []
        paginator = pricing.get_paginator("get_products")
        for page in paginator.paginate(ServiceCode="AmazonEC2", Filters=on_demand_filters(instance_type, region),
                                       FormatVersion="aws_v1"):
            documents.extend(json.loads(text) for text in page.get("PriceList", []))
        price, published = on_demand_price(documents, currency)
        if price is None:
            missing.append(instance_type)
        else:
            prices[instance_type], dates[instance_type] = price, published
    return prices, dates, missing


def read_spot(ec2, instance_types, days, now=None):
    """{type: (mean price, points)} over the last ``days`` days, and the types without history."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    points = []
    paginator = ec2.get_paginator("describe_spot_price_history")
    for page in paginator.paginate(InstanceTypes=list(instance_types), ProductDescriptions=[LINUX_SPOT],
                                   StartTime=now - datetime.timedelta(days=days), EndTime=now):
        points.extend(page.get("SpotPriceHistory", []))
    means = spot_mean(p for p in points if p.get("InstanceType") in instance_types)
    return means, [t for t in instance_types if t not in means]
