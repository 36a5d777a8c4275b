"""The node image's recipe: its hash changes exactly when what decides the image's content changes,
its id passes ParallelCluster's CustomAmi rule, and a wrong option is an error naming it."""

import re

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import image_os
from ansible_collections.hpc.parallelcluster.plugins.module_utils import node_image_files as files
from ansible_collections.hpc.parallelcluster.plugins.module_utils import node_image_layout as layout
from ansible_collections.hpc.parallelcluster.plugins.module_utils import node_image_recipe as r


def test_same_recipe_same_hash():
    assert r.recipe_hash(r.make_recipe()) == r.recipe_hash(r.make_recipe("trixie", "alinux2", "amd64"))


@pytest.mark.parametrize("change", [{"release": "bookworm"}, {"os": "ubuntu2204"}, {"arch": "arm64"}])
def test_each_option_changes_the_hash(change):
    base = dict(release="trixie", os="alinux2", arch="amd64")
    assert r.recipe_hash(r.make_recipe(**dict(base, **change))) != r.recipe_hash(r.make_recipe(**base))


def test_os_with_the_same_user_still_names_another_image():
    """Image.Os is recorded in the image, so alinux2 and rhel8 (both ec2-user) are two images."""
    assert r.recipe_hash(r.make_recipe(os="rhel8")) != r.recipe_hash(r.make_recipe(os="alinux2"))


def test_mirror_is_not_part_of_the_hash():
    assert r.recipe_hash(r.make_recipe(mirror="http://mirror.example:8080/debian")) == r.recipe_hash(r.make_recipe())


def test_package_list_changes_the_hash(monkeypatch):
    before = r.recipe_hash(r.make_recipe())
    monkeypatch.setattr(r, "PACKAGES", r.PACKAGES + ("htop",))
    assert r.recipe_hash(r.make_recipe()) != before


def test_customisation_content_changes_the_hash(monkeypatch):
    before = r.recipe_hash(r.make_recipe())
    monkeypatch.setattr(files, "SSHD_CONFIG", files.SSHD_CONFIG + "X11Forwarding no\n")
    assert r.recipe_hash(r.make_recipe()) != before


def test_layout_and_format_change_the_hash(monkeypatch):
    before = r.recipe_hash(r.make_recipe())
    monkeypatch.setattr(layout, "PREFIX", "/opt/slurm2")
    assert r.recipe_hash(r.make_recipe()) != before
    monkeypatch.undo()
    monkeypatch.setattr(r, "RECIPE_FORMAT", r.RECIPE_FORMAT + 1)
    assert r.recipe_hash(r.make_recipe()) != before


def test_image_id_passes_parallelclusters_custom_ami_rule():
    from pcluster.constants import PCLUSTER_AMI_ID_REGEX
    image_id = r.image_id(r.make_recipe())
    assert re.match(PCLUSTER_AMI_ID_REGEX, image_id)
    assert image_id == "ami-" + r.recipe_hash(r.make_recipe())[:17]
    assert r.check_image_id(image_id) == image_id


@pytest.mark.parametrize("bad", ["ami-123", "ami-../../etc/pass", "ami-F90CA4D25EF00BD73", "i-f90ca4d25ef00bd73",
                                 None, "ami-f90ca4d25ef00bd73/"])
def test_bad_image_ids_never_become_paths(bad):
    with pytest.raises(r.RecipeError, match="image id"):
        r.check_image_id(bad)


def test_default_users_are_parallelclusters():
    from pcluster.constants import OS_MAPPING, SUPPORTED_OSES
    for os_name in SUPPORTED_OSES:
        assert r.make_recipe(os=os_name).os_user == OS_MAPPING[os_name]["user"]
    assert image_os.OS_DEFAULT_USERS["alinux2"] == r.make_recipe().os_user == "ec2-user"


@pytest.mark.parametrize("options, field", [
    ({"release": "buster"}, "release 'buster'"),
    ({"os": "centos7"}, "os 'centos7'"),
    ({"arch": "i386"}, "arch 'i386'"),
    ({"arch": None, "machine": "riscv64"}, "architecture 'riscv64'"),
    ({"mirror": "ftp://x/debian"}, "mirror"),
    ({"mirror": "http://x/debian --no-check-gpg"}, "mirror"),
])
def test_wrong_options_name_the_option(options, field):
    with pytest.raises(r.RecipeError) as caught:
        r.make_recipe(**options)
    assert field in str(caught.value)


def test_machine_architecture_by_default():
    assert r.make_recipe(machine="aarch64").arch == "arm64"
    assert r.make_recipe(machine="x86_64").multiarch == "x86_64-linux-gnu"


def test_pinned_slurm_series():
    assert r.make_recipe("bookworm").slurm_series == "22.05"
    assert r.make_recipe("trixie").slurm_series == "24.11"
    assert r.make_recipe("forky").slurm_series is None
