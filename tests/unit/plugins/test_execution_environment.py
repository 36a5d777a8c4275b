"""execution-environment.yml is an ansible-builder v3 definition whose pins agree with the
checkout's (requirements.txt and constraints.txt) and with galaxy.yml's dependencies."""

import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def load(path):
    with open(os.path.join(ROOT, path)) as stream:
        return yaml.safe_load(stream)


def pins(path):
    found = {}
    with open(os.path.join(ROOT, path)) as stream:
        for line in stream:
            line = line.split("#", 1)[0].strip()
            if line:
                name, version = line.split("==")
                found[re.sub(r"\[.*\]", "", name).lower()] = version
    return found


def test_definition_shape():
    ee = load("execution-environment.yml")
    assert ee["version"] == 3
    deps = ee["dependencies"]
    for key in ("python", "system", "galaxy"):
        assert os.path.isfile(os.path.join(ROOT, deps[key])), key
    assert ee["images"]["base_image"]["name"]


def test_python_pins_match_constraints():
    constraints = pins("constraints.txt")
    ee = load("execution-environment.yml")
    wanted = pins(ee["dependencies"]["python"])
    for name in ("ansible_core", "ansible_runner"):
        package, version = ee["dependencies"][name]["package_pip"].split("==")
        wanted[package.lower()] = version
    wanted.pop("ansible-runner")  # not a dependency of the checkout
    assert {name: constraints.get(name) for name in wanted} == wanted


def test_collections_match_galaxy_dependencies():
    galaxy = load("galaxy.yml")["dependencies"]
    ee = load("execution-environment.yml")
    collections = {c["name"]: c["version"] for c in load(ee["dependencies"]["galaxy"])["collections"]}
    assert collections == galaxy


TEST_TOOLS = ("moto", "pytest", "pytest-mock", "pytest-xdist", "mock", "molecule", "ansible-lint", "ansible-builder")


def test_collection_metadata_names_the_run_time_dependencies_only():
    """ansible-builder introspect reads meta/execution-environment.yml of an installed collection: it must
    name the run-time files, not requirements.txt (the checkout's test tools)."""
    meta = load("meta/execution-environment.yml")
    ee = load("execution-environment.yml")
    assert meta["dependencies"]["python"] == ee["dependencies"]["python"]
    assert meta["dependencies"]["system"] == ee["dependencies"]["system"]
    assert not set(pins(meta["dependencies"]["python"])) & set(TEST_TOOLS)
    assert "aws-parallelcluster" in pins(meta["dependencies"]["python"])


def test_system_packages_include_nodejs_for_pcluster_create():
    with open(os.path.join(ROOT, "meta", "ee-bindep.txt")) as stream:
        names = [line.split()[0] for line in stream if line.strip() and not line.startswith("#")]
    assert "nodejs" in names
