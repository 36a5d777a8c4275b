# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ParallelCluster's official images, as ``ec2:DescribeImages`` shows them in every AWS region.

A config without ``Image.CustomAmi`` runs on the official image of its OS and of the head node's
architecture, which pcluster finds by name (``aws-parallelcluster-<version>-<os part>-<arch>*``,
owner ``amazon``) and then reads for its architecture, root device and root volume size. The AWS
API emulator publishes no such images, so this table stands in for them: one image per supported
OS and architecture of the installed aws-parallelcluster, with what its validators read. The image
IDs are made up (the same in every region); nothing launches them.
"""

from __future__ import annotations

import hashlib

# The official images' root volume (GiB): aws-parallelcluster PR #6406 sizes a default image build
# "40GB, the same size as our official AMI".
ROOT_VOLUME_GIB = 40
# Amazon Linux images boot from /dev/xvda, the others from /dev/sda1.
_ROOT_DEVICE = {"alinux2": "/dev/xvda", "alinux2023": "/dev/xvda"}
_DEFAULT_ROOT_DEVICE = "/dev/sda1"
# Public images show no tags to other accounts; the creation date only orders images of one name.
CREATION_DATE = "2025-01-01T00:00:00.000Z"


def image_id(version, os_name, architecture):
    """A stable, made-up AMI ID for one official image."""
    digest = hashlib.sha256(("%s/%s/%s" % (version, os_name, architecture)).encode()).hexdigest()
    return "ami-0%s" % digest[:16]


def _machine_image(image, name, description, architecture, os_name, creation_date, **extra):
    """One DescribeImages item of an EBS-backed HVM image with the root volume of the official images."""
    device = _ROOT_DEVICE.get(os_name, _DEFAULT_ROOT_DEVICE)
    item = {
        "ImageId": image,
        "Name": name,
        "Description": description,
        "Architecture": architecture,
        "State": "available",
        "ImageType": "machine",
        "VirtualizationType": "hvm",
        "Hypervisor": "xen",
        "EnaSupport": True,
        "RootDeviceType": "ebs",
        "RootDeviceName": device,
        "CreationDate": creation_date,
        "BlockDeviceMappings": [{
            "DeviceName": device,
            "Ebs": {"DeleteOnTermination": True, "VolumeSize": ROOT_VOLUME_GIB, "VolumeType": "gp3",
                    "Encrypted": False, "SnapshotId": "snap-0%s" % image[5:]},
        }],
    }
    item.update(extra)
    return item


def official_images(version, oses, name_parts, architectures):
    """DescribeImages items of every official image of ``version``.

    ``oses`` and ``architectures`` are pcluster's SUPPORTED_OSES and SUPPORTED_ARCHITECTURES,
    ``name_parts`` its OS_TO_IMAGE_NAME_PART_MAP (passed in so this table follows the installed
    aws-parallelcluster without importing it).
    """
    images = []
    for os_name in oses:
        part = name_parts.get(os_name)
        if not part:
            continue
        for architecture in architectures:
            images.append(_machine_image(
                image_id(version, os_name, architecture),
                "aws-parallelcluster-%s-%s-%s-%s" % (version, part, architecture, "202501010000 2025-01-01T00-00-00.000Z"),
                "AWS ParallelCluster AMI for %s" % os_name, architecture, os_name, CREATION_DATE,
                OwnerId="amazon", ImageOwnerAlias="amazon", Public=True))
    return images


# A node image's Debian architecture as EC2 names it.
_EC2_ARCHITECTURES = {"amd64": "x86_64", "arm64": "arm64"}


def node_image(manifest, version, owner_id="123456789012"):
    """The DescribeImages item of a local node image (the local_image module's), as ``pcluster build-image``
    leaves a custom image in the account: the user's own, tagged with its OS and ParallelCluster version, so
    that ``Image.CustomAmi`` can name it and the validators read its OS, architecture and root volume
    (``CustomAmiTagValidator`` wants the version of the installed pcluster and build_status ``available``)."""
    os_name = manifest["os"]
    image = manifest["image_id"]
    return _machine_image(
        image, "hpc-parallelcluster-node-image-%s-%s-%s-%s" % (manifest.get("release", "debian"), os_name,
                                                               manifest["arch"], image),
        "Local node image of hpc.parallelcluster (Debian %s, Slurm %s)"
        % (manifest.get("debian", "?"), manifest.get("slurm_version") or "?"),
        _EC2_ARCHITECTURES.get(manifest["arch"], manifest["arch"]), os_name, manifest.get("created") or CREATION_DATE,
        OwnerId=owner_id, Public=False,
        Tags=[{"Key": "parallelcluster:os", "Value": os_name}, {"Key": "parallelcluster:version", "Value": version},
              {"Key": "parallelcluster:build_status", "Value": "available"}])
