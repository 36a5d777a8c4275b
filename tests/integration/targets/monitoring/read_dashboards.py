"""Print the emulator's dashboards as JSON, {name: body}, read with boto3.

CloudWatch has no dashboard info module in amazon.aws; this keeps the check independent of the
module under test. Usage: read_dashboards.py ENDPOINT_URL REGION CREDENTIALS_FILE (the emulator's key
pair, which it requires).
"""
import json
import os
import sys

import boto3


def main(endpoint_url, region, credentials_file):
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = credentials_file
    client = boto3.client("cloudwatch", endpoint_url=endpoint_url, region_name=region)
    names = [entry["DashboardName"] for page in client.get_paginator("list_dashboards").paginate()
             for entry in page["DashboardEntries"]]
    dashboards = {name: json.loads(client.get_dashboard(DashboardName=name)["DashboardBody"]) for name in names}
    json.dump(dashboards, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:])
