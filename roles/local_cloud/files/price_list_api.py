# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prices for the local AWS API emulator: the AWS Price List API and EC2's spot price history.

moto has no Price List API, and its DescribeSpotPriceHistory answers 0.00001 for every type. The
modules that price a cluster call the same two APIs on both providers, so this WSGI middleware
answers them from a table (price_table.json beside this file) in AWS's own shapes: GetProducts
returns aws_v1 price list documents with On-Demand terms, DescribeSpotPriceHistory returns one point
per instance type and availability zone. Every other request goes to moto.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

TARGET_PREFIX = "AWSPriceListService."
EC2_NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
LINUX = "Linux/UNIX"
ZONE_SUFFIXES = ("a", "b", "c")
DEFAULT_TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "price_table.json")


class ApiError(Exception):
    """An error answer: HTTP status, AWS error code and message."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def load_table(path=DEFAULT_TABLE):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _sku(region, instance_type):
    return hashlib.sha256(("%s/%s" % (region, instance_type)).encode()).hexdigest()[:16].upper()


def products(table):
    """The table's On-Demand prices as Price List products (dicts), in a stable order."""
    found = []
    for region in sorted(table.get("regions", {})):
        entry = table["regions"][region]
        for instance_type in sorted(entry.get("on_demand", {})):
            sku = _sku(region, instance_type)
            price = "%.10f" % float(entry["on_demand"][instance_type])
            found.append({
                "product": {
                    "productFamily": "Compute Instance",
                    "sku": sku,
                    "attributes": {
                        "servicecode": "AmazonEC2", "instanceType": instance_type, "regionCode": region,
                        "location": entry.get("location", region), "locationType": "AWS Region",
                        "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
                        "capacitystatus": "Used", "licenseModel": "No License required",
                        "marketoption": "OnDemand", "usagetype": "BoxUsage:" + instance_type,
                    },
                },
                "serviceCode": "AmazonEC2",
                "terms": {"OnDemand": {sku + ".JRTCKXETXF": {
                    "offerTermCode": "JRTCKXETXF", "sku": sku, "effectiveDate": table.get("publication_date"),
                    "priceDimensions": {sku + ".JRTCKXETXF.6YS6EN2CT7": {
                        "unit": "Hrs", "pricePerUnit": {table.get("currency", "USD"): price},
                        "description": "$%s per On Demand Linux %s Instance Hour" % (price, instance_type),
                    }},
                }}},
                "version": table.get("publication_date"),
                "publicationDate": table.get("publication_date"),
            })
    return found


def _field(product, name):
    if name in ("sku", "productFamily"):
        return product["product"].get(name)
    if name == "ServiceCode":
        return product["serviceCode"]
    return product["product"]["attributes"].get(name)


def _matches(product, flt):
    kind, value = flt.get("Type", "TERM_MATCH"), flt.get("Value", "")
    have = _field(product, flt.get("Field", ""))
    if kind in ("TERM_MATCH", "EQUALS"):
        return have is not None and have.lower() == value.lower()
    if kind == "CONTAINS":
        return have is not None and value.lower() in have.lower()
    options = [v.strip().lower() for v in value.split(",")]
    if kind == "ANY_OF":
        return have is not None and have.lower() in options
    if kind == "NONE_OF":
        return have is None or have.lower() not in options
    raise ApiError(400, "InvalidParameterException", "Filter type %s is not one of TERM_MATCH, EQUALS, CONTAINS, ANY_OF, NONE_OF." % kind)


def get_products(table, request):
    """GetProducts: the table's products that pass every filter, as JSON strings, paginated."""
    if request.get("ServiceCode") != "AmazonEC2":
        raise ApiError(400, "NotFoundException", "This emulator prices AmazonEC2 only, not %s." % request.get("ServiceCode"))
    filters = request.get("Filters") or []
    chosen = [p for p in products(table) if all(_matches(p, f) for f in filters)]
    start = int(request.get("NextToken") or 0)
    size = int(request.get("MaxResults") or 100)
    page = chosen[start:start + size]
    answer = {"FormatVersion": "aws_v1", "PriceList": [json.dumps(p, sort_keys=True) for p in page]}
    if start + size < len(chosen):
        answer["NextToken"] = str(start + size)
    return answer


def _numbered(params, prefix):
    keys = sorted((k for k in params if k.startswith(prefix + ".")), key=lambda k: int(k.rsplit(".", 1)[1]))
    return [params[k][0] for k in keys]


def _query_filters(params):
    found = {}
    index = 1
    while "Filter.%d.Name" % index in params:
        found[params["Filter.%d.Name" % index][0]] = _numbered(params, "Filter.%d.Value" % index)
        index += 1
    return found


def spot_price_history(table, region, params, now):
    """DescribeSpotPriceHistory: the table's spot figure per instance type and zone, stamped at StartTime or now."""
    spot = table.get("regions", {}).get(region, {}).get("spot", {})
    filters = _query_filters(params)
    types = set(_numbered(params, "InstanceType") + filters.get("instance-type", []))
    descriptions = set(_numbered(params, "ProductDescription") + filters.get("product-description", []))
    zones = [region + s for s in ZONE_SUFFIXES]
    wanted_zones = set(params.get("AvailabilityZone", []) + filters.get("availability-zone", []))
    if descriptions and LINUX not in descriptions:
        return []
    stamp = params.get("StartTime", [None])[0] or now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return [{"instanceType": t, "productDescription": LINUX, "spotPrice": "%.6f" % float(spot[t]),
             "timestamp": stamp, "availabilityZone": z}
            for t in sorted(spot) if not types or t in types
            for z in zones if not wanted_zones or z in wanted_zones]


def spot_price_history_xml(points):
    items = "".join("<item>%s</item>" % "".join("<%s>%s</%s>" % (k, escape(v), k) for k, v in p.items()) for p in points)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<DescribeSpotPriceHistoryResponse xmlns="%s">'
            "<requestId>price-list-emulator</requestId><spotPriceHistorySet>%s</spotPriceHistorySet><nextToken></nextToken>"
            "</DescribeSpotPriceHistoryResponse>" % (EC2_NAMESPACE, items))


def _region(environ):
    scope = (environ.get("HTTP_AUTHORIZATION") or "").partition("Credential=")[2].split(",")[0].split("/")
    return scope[2] if len(scope) == 5 else "us-east-1"


def _body(environ):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read()
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _answer(start_response, status, content_type, text):
    data = text.encode("utf-8")
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


class PriceListApi:
    """WSGI middleware: GetProducts and DescribeSpotPriceHistory from the table, the rest to the app."""

    def __init__(self, app, table_path=DEFAULT_TABLE):
        self.app = app
        self.table = load_table(table_path)

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET") or ""
        if target.startswith(TARGET_PREFIX):
            return self.pricing(environ, start_response, target[len(TARGET_PREFIX):])
        if environ.get("REQUEST_METHOD") == "POST" and "x-www-form-urlencoded" in (environ.get("CONTENT_TYPE") or ""):
            params = parse_qs(_body(environ).decode("utf-8", "replace"), keep_blank_values=True)
            if params.get("Action") == ["DescribeSpotPriceHistory"]:
                now = datetime.datetime.now(datetime.timezone.utc)
                points = spot_price_history(self.table, _region(environ), params, now)
                return _answer(start_response, "200 OK", "text/xml", spot_price_history_xml(points))
        return self.app(environ, start_response)

    def pricing(self, environ, start_response, operation):
        content_type = "application/x-amz-json-1.1"
        try:
            if operation != "GetProducts":
                raise ApiError(400, "InvalidParameterException", "This emulator answers GetProducts only, not %s." % operation)
            try:
                request = json.loads(_body(environ) or b"{}")
            except ValueError:
                raise ApiError(400, "InvalidParameterException", "The request body is not JSON.") from None
            answer = get_products(self.table, request)
        except ApiError as error:
            text = json.dumps({"__type": error.code, "Message": error.message})
            return _answer(start_response, "%d Bad Request" % error.status, content_type, text)
        return _answer(start_response, "200 OK", content_type, json.dumps(answer))
