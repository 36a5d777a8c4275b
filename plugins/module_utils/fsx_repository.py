"""FSx for Lustre's link to its S3 data repository, played by a directory and the S3 API.

On AWS, a Lustre file system with an ImportPath lists the bucket's objects at create and an
export task (CreateDataRepositoryTask, EXPORT_TO_REPOSITORY) writes new and changed files to the
ExportPath, keeping their path below the mount point. The local provider does the same against
the emulator's S3 API, with the same rules:

- import copies objects the file system does not hold yet, or that changed in S3 after the local
  copy was written; it never replaces a file changed on the file system;
- export uploads regular files that differ both from what ExportPath holds and from the object
  they were imported from (an unchanged imported file is not exported, as on FSx); symbolic
  links are not followed, so a link to a file outside the mount point exports nothing.

Both compare content digests, so running either twice transfers nothing the second time.
"""

from __future__ import annotations

import hashlib
import os
import posixpath

DIGEST_METADATA = "content-md5-hex"
_CHUNK = 1024 * 1024


class RepositoryPathError(ValueError):
    """A path or repository URL that cannot be used; the message names it."""


def split_s3_path(url):
    """``s3://bucket/some/prefix/`` -> ("bucket", "some/prefix/"); the prefix ends with / or is empty."""
    if not url or not url.startswith("s3://"):
        raise RepositoryPathError("%r is not an s3://bucket/prefix path" % (url,))
    bucket, _sep, prefix = url[len("s3://"):].partition("/")
    if not bucket:
        raise RepositoryPathError("%r names no bucket" % (url,))
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def relative_paths(mount_dir, paths):
    """Task paths (relative to the mount point, or absolute below it) as clean relative paths.

    None or empty means the whole file system (``[""]``). ``..`` and paths outside the mount
    point are refused, so a task can never read or write outside the file system.
    """
    if not paths:
        return [""]
    root = mount_dir.rstrip("/")
    cleaned = []
    for path in paths:
        if path.startswith("/"):
            if path != root and not path.startswith(root + "/"):
                raise RepositoryPathError("path %r is not below the mount point %s" % (path, mount_dir))
            path = path[len(root):]
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise RepositoryPathError("path %r contains '..'; give a path below the mount point %s" % (path, mount_dir))
        cleaned.append("/".join(parts))
    return cleaned


def _within(rel, selected):
    return any(not sel or rel == sel or rel.startswith(sel + "/") for sel in selected)


def file_md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_missing(exc):
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound")


def object_md5(s3, bucket, key):
    """The object's content digest, or None when it does not exist.

    A single-part upload's ETag is the MD5 of its content; a multipart one is not, so export
    stores the digest in the object's metadata as well.
    """
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except Exception as exc:  # botocore's ClientError, without importing botocore here
        if _is_missing(exc):
            return None
        raise
    stored = (head.get("Metadata") or {}).get(DIGEST_METADATA)
    if stored:
        return stored
    etag = head.get("ETag", "").strip('"')
    return etag if etag and "-" not in etag else None


def _safe_target(mount_dir, rel):
    target = os.path.normpath(os.path.join(mount_dir, rel))
    # A key such as "../etc/x" must not escape the mount point.
    return target if target.startswith(mount_dir.rstrip("/") + "/") else None


def import_objects(s3, import_path, mount_dir, paths=None, dry_run=False):
    """Copy the repository's new or changed objects into the file system; returns what moved."""
    bucket, prefix = split_s3_path(import_path)
    selected = relative_paths(mount_dir, paths)
    moved = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            rel = obj["Key"][len(prefix):]
            if not rel or rel.endswith("/") or not _within(rel, selected):
                continue
            target = _safe_target(mount_dir, rel)
            if target is None:
                continue
            if os.path.lexists(target):
                if os.path.islink(target) or not os.path.isfile(target):
                    continue
                if obj["LastModified"].timestamp() <= os.path.getmtime(target):
                    continue
                if object_md5(s3, bucket, obj["Key"]) == file_md5(target):
                    continue
            moved.append({"path": target, "key": obj["Key"], "size": obj.get("Size", 0)})
            if not dry_run:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                s3.download_file(bucket, obj["Key"], target)
    return moved


def _walk_files(mount_dir, selected):
    for sel in selected:
        start = os.path.join(mount_dir, sel) if sel else mount_dir
        if os.path.islink(start):
            continue
        if os.path.isfile(start):
            yield start
            continue
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames.sort()
            for filename in sorted(filenames):
                path = os.path.join(dirpath, filename)
                if not os.path.islink(path) and os.path.isfile(path):
                    yield path


def export_files(s3, export_path, mount_dir, import_path=None, paths=None, dry_run=False):
    """Upload new or changed files of the file system to the repository; returns what moved."""
    bucket, prefix = split_s3_path(export_path)
    import_bucket, import_prefix = split_s3_path(import_path) if import_path else (None, None)
    selected = relative_paths(mount_dir, paths)
    for sel in selected:
        if sel and not os.path.lexists(os.path.join(mount_dir, sel)):
            raise RepositoryPathError("path %r does not exist below the mount point %s" % (sel, mount_dir))
    moved = []
    for path in _walk_files(mount_dir, selected):
        rel = posixpath.relpath(path, mount_dir)
        digest = file_md5(path)
        if import_bucket and object_md5(s3, import_bucket, import_prefix + rel) == digest:
            continue
        key = prefix + rel
        if object_md5(s3, bucket, key) == digest:
            continue
        moved.append({"path": path, "key": key, "size": os.path.getsize(path)})
        if not dry_run:
            s3.upload_file(path, bucket, key, ExtraArgs={"Metadata": {DIGEST_METADATA: digest}})
    return moved
