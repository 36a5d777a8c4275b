#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fsx_data_repository_task
short_description: Move data between a cluster's FSx for Lustre file system and its S3 data repository
version_added: 0.1.0
description:
  - Runs a data repository task on the FSx for Lustre shared storage of a ParallelCluster cluster,
    like FSx's C(CreateDataRepositoryTask), and waits for it.
  - O(type=export) writes files that are new or changed on the file system to the storage's
    C(ExportPath), keeping their path below the mount point (C(/fsx/results/a.out) becomes
    C(<ExportPath>results/a.out)). Files imported from C(ImportPath) and left unchanged are not
    exported, as on FSx.
  - O(type=import) brings objects that appeared or changed under C(ImportPath) since the file
    system was created onto the file system. A file changed on the file system is not replaced.
  - Both compare content digests, so a second identical run transfers nothing and reports no change.
  - The task runs as root in a tree every cluster user can write, so it never follows a symbolic
    link, neither for a folder on the way nor for the file itself. Export reads only regular files
    reached without links; import writes each file through a new temporary file renamed over its
    name. An import never replaces a link, a folder, or a file that belongs to another user. What is
    left alone for these reasons, and objects whose key cannot be a file name (an empty, V(.) or
    V(..) component, a key starting with V(/), a NUL or control character, a component longer than
    255 bytes), is listed in RV(task.skipped) and warned about; the rest of the task goes on.
  - With the C(local) provider the file system is the cluster's mount directory on the head node
    and the repository is the bucket in the AWS API that the AWS options point at (the local
    emulator on the local inventory). Run it on the head node.
author:
  - hpc.parallelcluster maintainers (!UNKNOWN)
options:
  cluster_name:
    description: Name of the cluster.
    type: str
    required: true
    aliases: [name]
  type:
    description:
      - V(export) is C(EXPORT_TO_REPOSITORY), V(import) is C(IMPORT_METADATA_FROM_REPOSITORY).
    type: str
    required: true
    choices: [export, import]
  paths:
    description:
      - Directories or files the task is limited to, relative to the mount point (or absolute
        below it). Empty means the whole file system.
      - A path with V(..) or outside the mount point fails the task before anything moves.
    type: list
    elements: str
    default: []
  storage_name:
    description:
      - C(Name) of the C(FsxLustre) entry of the cluster's C(SharedStorage).
      - Needed only when the cluster has more than one Lustre file system.
    type: str
  provider:
    description: Where the cluster runs. Only V(local) is available in this release.
    type: str
    choices: [local]
    default: local
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - ansible.builtin.action_common_attributes
  - hpc.parallelcluster.attributes
  - hpc.parallelcluster.attributes.aws_group
attributes:
  check_mode:
    support: full
    details: Lists the files that would move, transfers nothing.
  diff_mode:
    support: full
    details: The files that would move, one C(path -> s3 key) line each.
notes:
  - The module is in the C(hpc.parallelcluster.aws) action group, so C(module_defaults) for
    C(group/hpc.parallelcluster.aws) set its connection options.
  - When C(ExportPath) is not set, FSx's default is used, C(s3://<import bucket>/FSxLustre<creation time>/).
seealso:
  - module: hpc.parallelcluster.pcluster_cluster
  - name: FSx for Lustre data repository tasks
    description: How export and import tasks behave on AWS.
    link: https://docs.aws.amazon.com/fsx/latest/LustreGuide/data-repository-tasks.html
"""

EXAMPLES = r"""
- name: Export the results directory to the bucket's output/ prefix (the recipe's step 11)
  hpc.parallelcluster.fsx_data_repository_task:
    cluster_name: hpc-cluster
    type: export
    paths: [results]
  register: export

- name: Bring objects added to the bucket since create onto /fsx
  hpc.parallelcluster.fsx_data_repository_task:
    cluster_name: hpc-cluster
    type: import
    paths: [input]
"""

RETURN = r"""
task:
  description: The task that ran (or, in check mode, would run).
  returned: success
  type: dict
  contains:
    type:
      description: C(EXPORT_TO_REPOSITORY) or C(IMPORT_METADATA_FROM_REPOSITORY).
      type: str
      sample: EXPORT_TO_REPOSITORY
    lifecycle:
      description: C(SUCCEEDED), or C(PENDING) in check mode.
      type: str
      sample: SUCCEEDED
    file_system_name:
      description: C(Name) of the shared storage.
      type: str
      sample: fsx-storage
    mount_dir:
      description: Mount point of the file system.
      type: str
      sample: /fsx
    repository_path:
      description: The C(ExportPath) or C(ImportPath) the task used.
      type: str
      sample: s3://hpc-data-x1y2z3-123456789012/output/
    paths:
      description: The paths the task was limited to, relative to the mount point (V("") is all).
      type: list
      elements: str
      sample: [results]
    files:
      description: What moved, C(path) on the file system and C(key) in the bucket, with C(size).
      type: list
      elements: dict
      sample: [{path: /fsx/results/a.out, key: output/results/a.out, size: 12}]
    skipped:
      description:
        - What the task left alone and why, C(path) on the file system, C(key) in the bucket (null
          for export) and C(reason), such as a symbolic link or an object key that cannot be a file name.
      type: list
      elements: dict
      sample: [{path: /fsx/results/link, key: null, reason: /fsx/results/link is a symbolic link; links are not followed}]
    total_count:
      description: Number of files the task had to move.
      type: int
      sample: 1
    succeeded_count:
      description: Number of files moved (0 in check mode).
      type: int
      sample: 1
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.hpc.parallelcluster.plugins.module_utils import cluster_backend as cb
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_cluster import LocalClusterBackend

TASK_TYPES = {"export": cb.EXPORT_TO_REPOSITORY, "import": cb.IMPORT_METADATA_FROM_REPOSITORY}


def _diff(task):
    lines = ["%s -> %s" % (f["path"], f["key"]) if task["type"] == cb.EXPORT_TO_REPOSITORY
             else "%s -> %s" % (f["key"], f["path"]) for f in task["files"]]
    return {"before": "", "after": "".join(line + "\n" for line in lines),
            "after_header": "%s %s" % (task["type"], task["repository_path"])}


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True, aliases=["name"]),
        type=dict(type="str", required=True, choices=sorted(TASK_TYPES)),
        paths=dict(type="list", elements="str", default=[]),
        storage_name=dict(type="str"),
        provider=dict(type="str", default="local", choices=["local"]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    backend = LocalClusterBackend(run=module.run_command, instance_types=None,
                                  s3_client_factory=lambda: module.client("s3"), warn=module.warn)
    try:
        task = backend.data_repository_task(module.params["cluster_name"], TASK_TYPES[module.params["type"]],
                                            paths=module.params["paths"], storage_name=module.params["storage_name"],
                                            check_mode=module.check_mode)
    except cb.BackendError as exc:
        module.fail_json(msg=str(exc), failures=exc.failures)
    for entry in task["skipped"]:
        what = "file not exported" if entry["key"] is None else "object %r not imported" % entry["key"]
        module.warn("%s: %s" % (what, entry["reason"]))
    module.exit_json(changed=bool(task["files"]), task=task, diff=_diff(task))


if __name__ == "__main__":
    main()
