"""hpc.parallelcluster.local_image: builds only what the cache lacks, check mode builds nothing, the
diff says whether the image is there, and an image that an instance uses is not removed."""

import functools
import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hpc.parallelcluster.plugins.module_utils import node_image_recipe as recipes
from ansible_collections.hpc.parallelcluster.plugins.module_utils.instance_store import InstanceStore
from ansible_collections.hpc.parallelcluster.plugins.module_utils.node_image_cache import ImageCache
from ansible_collections.hpc.parallelcluster.plugins.module_utils.root_folders import write_json
from ansible_collections.hpc.parallelcluster.plugins.modules import local_image

IMAGE_ID = recipes.image_id(recipes.make_recipe(arch="amd64"))


@pytest.fixture
def env(tmp_path, monkeypatch):
    os.chmod(tmp_path, 0o755)
    builds = []

    def fake_build(self, recipe, build):
        builds.append(recipe)
        self.progress("debootstrap %s" % recipe.release)
        os.mkdir(os.path.join(build, "rootfs"))
        manifest = {"image_id": recipes.image_id(recipe), "release": recipe.release, "os_user": recipe.os_user}
        write_json(build, "manifest.json", manifest, mode=0o644)
        return manifest

    monkeypatch.setattr(local_image, "ImageCache", functools.partial(ImageCache, trusted=str(tmp_path)))
    monkeypatch.setattr(local_image.Builder, "build", fake_build)
    store = InstanceStore(str(tmp_path / "instances"), trusted=str(tmp_path))
    monkeypatch.setattr(local_image, "InstanceStore", lambda: store)
    return {"cache": str(tmp_path / "images"), "builds": builds, "store": store}


def run(env, capsys, check_mode=False, **args):
    with patch_module_args(dict(args, cache_dir=env["cache"], arch="amd64", _ansible_check_mode=check_mode,
                                _ansible_diff=True)):
        with pytest.raises(SystemExit):
            local_image.main()
    return json.loads(capsys.readouterr().out)


def test_builds_once(env, capsys):
    first = run(env, capsys)
    assert first["changed"] is True and first["built"] is True and first["image_id"] == IMAGE_ID
    assert first["progress"] == ["debootstrap trixie"]
    assert first["diff"] == {"before": {"image_id": IMAGE_ID, "present": False},
                             "after": {"image_id": IMAGE_ID, "present": True}}
    again = run(env, capsys)
    assert again["changed"] is False and again["built"] is False and again["manifest"]["image_id"] == IMAGE_ID
    assert len(env["builds"]) == 1


def test_check_mode_builds_nothing(env, capsys):
    out = run(env, capsys, check_mode=True)
    assert out["changed"] is True and out["built"] is True and env["builds"] == []
    assert not os.path.exists(os.path.join(env["cache"], IMAGE_ID))


def test_os_and_release_choose_the_image(env, capsys):
    out = run(env, capsys, release="bookworm", os="ubuntu2204")
    assert out["manifest"]["os_user"] == "ubuntu" and out["image_id"] != IMAGE_ID


def test_absent_removes_and_is_idempotent(env, capsys):
    run(env, capsys)
    assert run(env, capsys, check_mode=True, state="absent")["changed"] is True
    assert os.path.isdir(os.path.join(env["cache"], IMAGE_ID))
    assert run(env, capsys, state="absent")["changed"] is True
    assert not os.path.exists(os.path.join(env["cache"], IMAGE_ID))
    assert run(env, capsys, state="absent")["changed"] is False


def test_image_in_use_is_not_removed(env, capsys):
    run(env, capsys)
    env["store"].create("i-0123456789abcdef0")
    env["store"].save({"instance_id": "i-0123456789abcdef0", "image_id": IMAGE_ID})
    out = run(env, capsys, state="absent")
    assert out["failed"] is True and "i-0123456789abcdef0" in out["msg"] and "terminate them first" in out["msg"]
    assert os.path.isdir(os.path.join(env["cache"], IMAGE_ID))


def test_bad_mirror_names_the_option(env, capsys):
    out = run(env, capsys, mirror="file:///etc")
    assert out["failed"] is True and out["msg"].startswith("mirror")
