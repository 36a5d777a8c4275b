"""The emulator reads moto's instance type offerings per region on first use: every region still
answers exactly what moto answers, and a region nobody asks for is never read."""

import json
import subprocess
import sys

from emulator import LOCAL_CLOUD_FILES, local_cloud_module


def test_a_region_is_read_once_on_first_lookup_and_others_never():
    reads = []

    def load(path):
        reads.append(path)
        return [{"InstanceType": "c5n.large", "Location": path.split("/")[-1].split(".")[0]}]

    files = {"us-east-1": "x/region/us-east-1.json.gz", "eu-west-1": "x/region/eu-west-1.json.gz"}
    offerings = local_cloud_module("lazy_offerings").LazyOfferings("region", files, load)
    assert reads == [] and "us-east-1" in offerings and len(offerings) == 2
    assert offerings.get("us-east-1") == [{"InstanceType": "c5n.large", "Location": "us-east-1",
                                           "LocationType": "region"}]
    assert offerings["us-east-1"] is offerings.get("us-east-1")
    assert offerings.get("mars-north-1", []) == [] and "mars-north-1" not in offerings
    assert reads == ["x/region/us-east-1.json.gz"]
    assert sorted(offerings) == ["eu-west-1", "us-east-1"] and len(reads) == 2


# Run in a child: moto keeps the offerings in a module, imported once per process.
ANSWERS = r"""
import json, sys
if sys.argv[1] == "lazy":
    sys.path.insert(0, sys.argv[2])
    import lazy_offerings
    lazy_offerings.install()
from moto.ec2 import ec2_backends
from moto.ec2.models import instance_types
answers = {}
for region in ("us-east-1", "eu-west-1"):
    backend = ec2_backends["123456789012"][region]
    for location in ("region", "availability-zone", "availability-zone-id"):
        answers[region + " " + location] = backend.describe_instance_type_offerings(location, {})
    answers[region + " spot"] = backend.describe_spot_price_history(["c5n.large"], {})
read = {location: sorted(dict.keys(by_region)) for location, by_region in instance_types.INSTANCE_TYPE_OFFERINGS.items()}
print(json.dumps({"answers": answers, "read": read}, sort_keys=True, default=str))
"""


def _answers(mode):
    result = subprocess.run([sys.executable, "-c", ANSWERS, mode, LOCAL_CLOUD_FILES], check=True,
                            stdout=subprocess.PIPE, text=True)
    return json.loads(result.stdout)


def test_the_emulator_answers_what_moto_answers_and_reads_only_the_regions_asked():
    eager, lazy = _answers("eager"), _answers("lazy")
    assert lazy["answers"] == eager["answers"]
    assert eager["answers"]["us-east-1 region"] and eager["answers"]["eu-west-1 spot"]
    assert all(len(regions) > 20 for regions in eager["read"].values())
    assert all(regions == ["eu-west-1", "us-east-1"] for regions in lazy["read"].values()), lazy["read"]
