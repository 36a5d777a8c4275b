"""docs/awx/job_templates.yml against the awx.awx modules it calls: every option it sets is one the
module documents (suboptions of workflow nodes included), the job tags are site.yml's tags, the
workflow's nodes link to nodes it defines, and the surveys are AWX survey specs."""

import json
import os
import sysconfig

import ansible
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
AWX_DIR = os.path.join(ROOT, "docs", "awx")


def _awx_modules():
    """awx.awx's modules: they ship with the ansible package of the checkout's virtualenv (ansible-test
    runs ansible-core from a copy of its own, so the virtualenv's site-packages is looked at too)."""
    places = [os.path.dirname(os.path.dirname(ansible.__file__)), sysconfig.get_paths()["purelib"]]
    for place in places:
        path = os.path.join(place, "ansible_collections", "awx", "awx", "plugins", "modules")
        if os.path.isdir(path):
            return path
    return os.path.join(places[-1], "ansible_collections", "awx", "awx", "plugins", "modules")


AWX_MODULES = _awx_modules()
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}


def _tasks():
    with open(os.path.join(AWX_DIR, "job_templates.yml")) as stream:
        plays = yaml.safe_load(stream)
    return [task for play in plays for task in play["tasks"]]


def _module_options(name):
    with open(os.path.join(AWX_MODULES, name + ".py")) as stream:
        source = stream.read()
    doc = source.split("DOCUMENTATION = ", 1)[1]
    quote = doc[:3]
    return yaml.safe_load(doc[3:doc.index(quote, 3)])["options"]


def _names(options):
    names = set(options)
    for spec in options.values():
        names.update(spec.get("aliases") or [])
    return names


def _unknown(args, options, where):
    """Options set in ``args`` that the module's documentation does not have, as 'where.key'."""
    found = []
    for key, value in args.items():
        spec = next((s for n, s in options.items() if key == n or key in (s.get("aliases") or [])), None)
        if spec is None:
            found.append("%s.%s" % (where, key))
        elif spec.get("suboptions") and isinstance(value, dict):
            found += _unknown(value, spec["suboptions"], "%s.%s" % (where, key))
        elif spec.get("suboptions") and isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    found += _unknown(item, spec["suboptions"], "%s.%s[%d]" % (where, key, index))
    return found


def _awx_calls():
    calls = []
    for task in _tasks():
        module = next(k for k in task if k.startswith("awx.awx."))
        calls.append((task["name"], module.split(".")[-1], task[module]))
    return calls


def test_the_awx_modules_are_installed():
    assert os.path.isfile(os.path.join(AWX_MODULES, "workflow_job_template.py")), AWX_MODULES


@pytest.mark.parametrize("name,module,args", _awx_calls(), ids=[c[0] for c in _awx_calls()])
def test_every_option_is_one_the_module_documents(name, module, args):
    assert not _unknown(args, _module_options(module), module), name


def _site_tags():
    with open(os.path.join(ROOT, "playbooks", "site.yml")) as stream:
        text = stream.read()
    tags = set()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("tags: ["):
            tags.update(t.strip() for t in line[len("tags: ["):-1].split(","))
    return tags


def test_job_tags_are_tags_of_site_yml():
    known = _site_tags()
    used = [a["job_tags"] for _name, m, a in _awx_calls() if m == "job_template" and "job_tags" in a]
    assert used, "no job template runs a stage of site.yml"
    for value in used:
        assert set(value.split(",")) <= known, (value, sorted(known))


def test_the_workflow_runs_infrastructure_then_inventory_sync_then_configuration():
    workflow = next(a for _name, m, a in _awx_calls() if m == "workflow_job_template")
    nodes = {n["identifier"]: n for n in workflow["workflow_nodes"]}
    for node in nodes.values():
        for kind in ("success_nodes", "failure_nodes", "always_nodes"):
            for target in (node.get("related") or {}).get(kind, []):
                assert target["identifier"] in nodes
    order, current = [], "infrastructure"
    while current:
        order.append(nodes[current]["unified_job_template"]["type"])
        following = (nodes[current].get("related") or {}).get("success_nodes") or [{}]
        current = following[0].get("identifier")
    assert order == ["job_template", "inventory_source", "job_template"]
    templates = {a["name"]: a for _name, m, a in _awx_calls() if m in ("job_template", "inventory_source")}
    for node in nodes.values():
        assert node["unified_job_template"]["name"] in templates


@pytest.mark.parametrize("name", ["survey_site.json", "survey_teardown.json"])
def test_surveys_are_awx_survey_specs(name):
    with open(os.path.join(AWX_DIR, name)) as stream:
        survey = json.load(stream)
    assert survey["name"] and survey["spec"]
    for question in survey["spec"]:
        assert question["type"] in SURVEY_TYPES
        assert question["variable"] and question["question_name"]
        if question["type"] in ("multiplechoice", "multiselect"):
            assert question["default"] in question["choices"]
