"""ansible-doc renders every module, lookup, inventory plugin and role of the collection, with no
warning, and the documented action groups are the ones meta/runtime.yml defines."""

import glob
import json
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PREFIX = "hpc.parallelcluster."


def collections_path():
    """ansible-test runs from .../ansible_collections/hpc/parallelcluster; a checkout has .collections."""
    parts = ROOT.split(os.sep)
    if len(parts) > 3 and parts[-3] == "ansible_collections":
        return os.sep.join(parts[:-3])
    return os.path.join(ROOT, ".collections")


def names(pattern):
    return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, pattern))
                  if not os.path.basename(p).startswith("_"))


PLUGINS = {
    "module": names("plugins/modules/*.py"),
    "lookup": names("plugins/lookup/*.py"),
    # A filter file holds several filters, each documented by a YAML file of its own name.
    "filter": names("plugins/filter/*.yml"),
    "inventory": names("plugins/inventory/*.py"),
    "role": sorted(os.path.basename(os.path.dirname(os.path.dirname(p)))
                   for p in glob.glob(os.path.join(ROOT, "roles/*/meta/argument_specs.yml"))),
}


def ansible_doc(*args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_NOCOLOR="1",
               ANSIBLE_DEPRECATION_WARNINGS="1")
    env.pop("ANSIBLE_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "ansible.cli.doc"] + list(args), env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module", params=sorted(PLUGINS))
def rendered(request):
    """One ansible-doc --json call per plugin type, for all its plugins."""
    kind = request.param
    result = ansible_doc("-t", kind, "--json", *[PREFIX + name for name in PLUGINS[kind]])
    return kind, result


def test_every_plugin_type_is_found():
    assert {kind: bool(found) for kind, found in PLUGINS.items()} == dict.fromkeys(PLUGINS, True)


def test_ansible_doc_renders_without_warnings(rendered):
    kind, result = rendered
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr and "ERROR" not in result.stderr, result.stderr
    docs = json.loads(result.stdout)
    assert sorted(docs) == sorted(PREFIX + name for name in PLUGINS[kind])
    for name, entry in docs.items():
        if kind == "role":
            assert entry["entry_points"]["main"]["short_description"], name
            continue
        doc = entry["doc"]
        assert doc["short_description"] and doc["description"], name
        assert doc.get("options") is not None, name
        for option, spec in (doc.get("options") or {}).items():
            assert spec.get("description"), "%s: option %s has no description" % (name, option)
        if kind == "module":
            assert entry["examples"] and entry["return"] is not None, name


def test_text_output_renders(rendered):
    """The text form users read (fragments merged, markup rendered) works for each plugin."""
    kind = rendered[0]
    for name in PLUGINS[kind]:
        result = ansible_doc("-t", kind, PREFIX + name)
        assert result.returncode == 0 and PREFIX + name in result.stdout, result.stderr


def test_documented_action_groups_match_runtime():
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as stream:
        groups = yaml.safe_load(stream)["action_groups"]
    members = {name: group for group, entries in groups.items() for name in entries if isinstance(name, str)}
    docs = json.loads(ansible_doc("-t", "module", "--json", *[PREFIX + n for n in PLUGINS["module"]]).stdout)
    for fqcn, entry in docs.items():
        name = fqcn[len(PREFIX):]
        membership = entry["doc"].get("attributes", {}).get("action_group", {}).get("membership", [])
        for group in membership:
            assert group.startswith(PREFIX) and members.get(name) == group[len(PREFIX):], (name, membership)
