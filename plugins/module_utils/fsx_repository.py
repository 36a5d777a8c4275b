"""FSx for Lustre's link to its S3 data repository, played by a directory and the S3 API.

On AWS, a Lustre file system with an ImportPath lists the bucket's objects at create and an
export task (CreateDataRepositoryTask, EXPORT_TO_REPOSITORY) writes new and changed files to the
ExportPath, keeping their path below the mount point. The local provider does the same against
the emulator's S3 API, with the same rules:

- import copies objects the file system does not hold yet, or that changed in S3 after the local
  copy was written; it never replaces a file changed on the file system;
- export uploads regular files that differ both from what ExportPath holds and from the object
  they were imported from (an unchanged imported file is not exported, as on FSx).

Both compare content digests, so running either twice transfers nothing the second time.

The tasks run as root in a tree every cluster user can write (the mount point is mode 1777), so
what they touch is checked on what is opened, never on a path string: every folder is opened
from the mount point's descriptor, one name at a time, without following symbolic links; a file
is written through a new temporary file in its folder and renamed over its name, so an existing
name (a link, another user's file) is never opened for writing; export reads only regular files
reached that way. Whatever cannot be handled so is left alone and reported in ``skipped``, as
FSx reports the files a task could not process.
"""

from __future__ import annotations

import collections
import hashlib
import os
import stat
import uuid

DIGEST_METADATA = "content-md5-hex"
MAX_KEY_BYTES = 1024  # S3's limit on an object key
NAME_MAX = 255  # Linux's limit on one file name, in bytes
_CHUNK = 1024 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO swapped in for a file must not hang the task; it is refused after fstat.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

Transfer = collections.namedtuple("Transfer", ["moved", "skipped"])
Transfer.__doc__ = """What a task moved (path, key, size) and what it left alone (path, key, reason)."""


class RepositoryPathError(ValueError):
    """A path or repository URL that cannot be used; the message names it."""


class MountPointError(RepositoryPathError):
    """The mount point cannot be opened as a folder without following a symbolic link."""


class _Skip(Exception):
    """One object or file the task leaves alone; the message says why."""


class _Missing(Exception):
    """A folder on the way is not there (check mode, or an export path that does not exist)."""


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
        bad = [p for p in parts if _name_problem(p)]
        if bad:
            raise RepositoryPathError("path %r: %r %s" % (path, bad[0], _name_problem(bad[0])))
        cleaned.append("/".join(parts))
    return cleaned


def _within(rel, selected):
    return any(not sel or rel == sel or rel.startswith(sel + "/") for sel in selected)


def _name_problem(name):
    """Why one path component cannot be a file name on the file system, or None."""
    if name in ("", ".", ".."):
        return "is an empty, '.' or '..' path component"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "has a NUL or control character"
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    if size > NAME_MAX:
        return "is longer than %d bytes" % NAME_MAX
    return None


def _components(rel):
    """An object key below the prefix as file names; _Skip says why it cannot be one."""
    if rel.startswith("/"):
        raise _Skip("the key is absolute below the prefix (starts with /); FSx cannot map it to a file")
    parts = rel.split("/")
    for part in parts:
        problem = _name_problem(part)
        if problem:
            raise _Skip("the key's component %r %s; rename the object" % (part, problem))
    return parts


def _md5(handle):
    digest = hashlib.md5()
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


# Descriptors: every name is opened relative to its folder's descriptor, never followed. ----------

def _kind(dir_fd, name):
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except OSError:
        return None
    if stat.S_ISLNK(mode):
        return "is a symbolic link; links are not followed"
    if not stat.S_ISDIR(mode):
        return "is not a folder"
    return None


def open_mount(mount_dir):
    """The mount point's descriptor, opened from / one component at a time without following links.

    The mount point is where every task starts; a link anywhere in its path (a user could plant
    one where a parent folder is writable) would move the whole task elsewhere.
    """
    if not mount_dir.startswith("/"):
        raise MountPointError("mount point %r is not an absolute path" % (mount_dir,))
    fd = os.open("/", _DIR_FLAGS)
    try:
        walked = ""
        for part in [p for p in mount_dir.split("/") if p not in ("", ".")]:
            walked += "/" + part
            if part == "..":
                raise MountPointError("mount point %s contains '..'" % mount_dir)
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise MountPointError("mount point %s: %s %s" % (
                    mount_dir, walked, _kind(fd, part) or exc.strerror.lower()))
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_folders(root_fd, parts, where, create=False):
    """Descriptors of the folders ``parts`` below ``root_fd``, the last one deepest.

    A missing folder is made when ``create`` (mkdir relative to its parent, then opened without
    following a link, so a link swapped in meanwhile is refused) and raises _Missing otherwise;
    a link or a non-folder raises _Skip. The caller closes the descriptors.
    """
    fds = []
    try:
        dir_fd = root_fd
        for index, part in enumerate(parts):
            path = "/".join([where] + parts[:index + 1])
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=dir_fd)
            except FileNotFoundError:
                if not create:
                    raise _Missing(path)
                try:
                    os.mkdir(part, 0o777, dir_fd=dir_fd)
                except FileExistsError:
                    pass
                except OSError as exc:
                    raise _Skip("folder %s could not be made: %s" % (path, exc.strerror))
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=dir_fd)
                except OSError as exc:
                    raise _Skip("%s %s" % (path, _kind(dir_fd, part) or exc.strerror))
            except OSError as exc:
                raise _Skip("%s %s" % (path, _kind(dir_fd, part) or exc.strerror))
            fds.append(child)
            dir_fd = child
    except BaseException:
        _close(fds)
        raise
    return fds


def _close(fds):
    for fd in fds:
        os.close(fd)


def _lstat(dir_fd, name):
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _open_regular(dir_fd, name, path):
    """A binary reader of the regular file ``name``; a link, FIFO or device raises _Skip."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if _is_link(dir_fd, name):
            raise _Skip("%s is a symbolic link; links are not followed" % path)
        raise _Skip("%s could not be read: %s" % (path, exc.strerror))
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        raise _Skip("%s is not a regular file" % path)
    return handle


def _is_link(dir_fd, name):
    found = _lstat(dir_fd, name)
    return found is not None and stat.S_ISLNK(found.st_mode)


def _owner(uid):
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "uid %d" % uid


# Import ---------------------------------------------------------------------------------------------

def _download(s3, bucket, key, dir_fd, name, path):
    """Write the object as ``name`` in the folder: a new temporary file there, renamed over the name.

    Neither the temporary file (O_EXCL|O_NOFOLLOW) nor the final name is ever opened as it stands,
    so a link or a hard link in its place is replaced, not written through.
    """
    temporary = ".%s.fsx-import" % uuid.uuid4().hex
    fd = os.open(temporary, _NEW_FILE_FLAGS, 0o666, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as handle:
            s3.download_fileobj(bucket, key, handle)
        try:
            os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError as exc:
            raise _Skip("%s could not be replaced: %s" % (path, exc.strerror))
    except BaseException:
        try:
            os.unlink(temporary, dir_fd=dir_fd)
        except OSError:
            pass
        raise


def _import_one(s3, bucket, obj, root_fd, parts, where, dry_run):
    """Whether the object moved (or would move); _Skip when it cannot be written safely."""
    path = "/".join([where] + parts)
    try:
        fds = _open_folders(root_fd, parts[:-1], where, create=not dry_run)
    except _Missing:
        return True  # check mode: the folder, so the file, is not there yet
    try:
        dir_fd = fds[-1] if fds else root_fd
        name = parts[-1]
        found = _lstat(dir_fd, name)
        if found is not None:
            if stat.S_ISLNK(found.st_mode):
                raise _Skip("%s is a symbolic link; the import does not replace it" % path)
            if not stat.S_ISREG(found.st_mode):
                raise _Skip("%s is not a regular file" % path)
            if obj["LastModified"].timestamp() <= found.st_mtime:
                return False
            with _open_regular(dir_fd, name, path) as handle:
                if object_md5(s3, bucket, obj["Key"]) == _md5(handle):
                    return False
            if found.st_uid != os.geteuid():
                raise _Skip("%s belongs to %s; the import does not replace another user's file"
                            % (path, _owner(found.st_uid)))
        if not dry_run:
            _download(s3, bucket, obj["Key"], dir_fd, name, path)
        return True
    finally:
        _close(fds)


def import_objects(s3, import_path, mount_dir, paths=None, dry_run=False):
    """Copy the repository's new or changed objects into the file system; returns a Transfer."""
    bucket, prefix = split_s3_path(import_path)
    selected = relative_paths(mount_dir, paths)
    where = mount_dir.rstrip("/")
    result = Transfer([], [])
    root_fd = open_mount(mount_dir)
    try:
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                rel = obj["Key"][len(prefix):]
                if not rel or rel.endswith("/") or not _within(rel, selected):
                    continue
                path = where + "/" + rel
                try:
                    if _import_one(s3, bucket, obj, root_fd, _components(rel), where, dry_run):
                        result.moved.append({"path": path, "key": obj["Key"], "size": obj.get("Size", 0)})
                except _Skip as exc:
                    result.skipped.append({"path": path, "key": obj["Key"], "reason": str(exc)})
    finally:
        os.close(root_fd)
    return result


# Export ---------------------------------------------------------------------------------------------

def _files_below(top_fd, top_rel, prefix, skip):
    """(relative path, folder descriptor, name) of each regular file below the folder ``top_fd``.

    Depth first, a folder's files (sorted) before its subfolders, as os.walk lists them; links,
    special files and names that cannot be keys go to ``skip``. Only the folders on the current
    branch are open, and a branch stops where its keys would pass S3's length limit.
    """
    branch = [[top_fd, top_rel, None]]  # [descriptor, relative path, subfolders left] per open folder
    try:
        while branch:
            folder = branch[-1]
            if folder[2] is None:
                folder[2] = iter((yield from _list_folder(folder[0], folder[1], prefix, skip)))
            name = next(folder[2], None)
            if name is None:
                branch.pop()
                if folder[0] != top_fd:
                    os.close(folder[0])
                continue
            rel = folder[1] + "/" + name if folder[1] else name
            try:
                branch.append([os.open(name, _DIR_FLAGS, dir_fd=folder[0]), rel, None])
            except OSError as exc:
                skip(rel, _kind(folder[0], name) or "could not be opened: %s" % exc.strerror)
    finally:
        _close([folder[0] for folder in branch if folder[0] != top_fd])


def _list_folder(fd, rel, prefix, skip):
    """Yields the folder's regular files and returns its subfolders' names."""
    subfolders = []
    for name in sorted(os.listdir(fd)):
        child = rel + "/" + name if rel else name
        problem = _name_problem(name)
        if problem:
            skip(child, "is not exported: the name %s" % problem)
            continue
        if len((prefix + child).encode("utf-8")) > MAX_KEY_BYTES:
            skip(child, "is not exported: its key would be longer than S3's %d bytes" % MAX_KEY_BYTES)
            continue
        found = _lstat(fd, name)
        if found is None:
            continue
        if stat.S_ISLNK(found.st_mode):
            skip(child, "is a symbolic link; links are not followed")
        elif stat.S_ISDIR(found.st_mode):
            subfolders.append(name)
        elif stat.S_ISREG(found.st_mode):
            yield child, fd, name
        else:
            skip(child, "is not a regular file")
    return subfolders


def _export_starts(root_fd, selected, where):
    """Check every selected path before anything moves: a missing one is an error."""
    for sel in selected:
        if not sel:
            continue
        parts = sel.split("/")
        try:
            fds = _open_folders(root_fd, parts[:-1], where)
        except _Missing:
            fds = None
        except _Skip:
            continue  # reported when the path is exported
        if fds is not None:
            found = _lstat(fds[-1] if fds else root_fd, parts[-1])
            _close(fds)
            if found is not None:
                continue
        raise RepositoryPathError("path %r does not exist below the mount point %s" % (sel, where or "/"))


def export_files(s3, export_path, mount_dir, import_path=None, paths=None, dry_run=False):
    """Upload new or changed files of the file system to the repository; returns a Transfer."""
    bucket, prefix = split_s3_path(export_path)
    import_bucket, import_prefix = split_s3_path(import_path) if import_path else (None, None)
    selected = relative_paths(mount_dir, paths)
    where = mount_dir.rstrip("/")
    result = Transfer([], [])

    def skip(rel, what):
        result.skipped.append({"path": where + "/" + rel, "key": None, "reason": "%s/%s %s" % (where, rel, what)})

    def export(rel, dir_fd, name):
        with _open_regular(dir_fd, name, where + "/" + rel) as handle:
            digest = _md5(handle)
            if import_bucket and object_md5(s3, import_bucket, import_prefix + rel) == digest:
                return
            key = prefix + rel
            if len(key.encode("utf-8")) > MAX_KEY_BYTES:
                raise _Skip("%s/%s is not exported: its key would be longer than S3's %d bytes" % (where, rel, MAX_KEY_BYTES))
            if object_md5(s3, bucket, key) == digest:
                return
            result.moved.append({"path": where + "/" + rel, "key": key, "size": os.fstat(handle.fileno()).st_size})
            if not dry_run:
                handle.seek(0)
                s3.upload_fileobj(handle, bucket, key, ExtraArgs={"Metadata": {DIGEST_METADATA: digest}})

    root_fd = open_mount(mount_dir)
    try:
        _export_starts(root_fd, selected, where)
        for sel in selected:
            for rel, dir_fd, name in _export_selected(root_fd, sel, prefix, where, skip):
                try:
                    export(rel, dir_fd, name)
                except _Skip as exc:
                    result.skipped.append({"path": where + "/" + rel, "key": None, "reason": str(exc)})
    finally:
        os.close(root_fd)
    return result


def _export_selected(root_fd, sel, prefix, where, skip):
    """The regular files of one selected path (a folder, a file, or the whole file system)."""
    if not sel:
        yield from _files_below(root_fd, "", prefix, skip)
        return
    parts = sel.split("/")
    try:
        fds = _open_folders(root_fd, parts[:-1], where)
    except _Missing:
        return  # gone since it was checked
    except _Skip as exc:
        skip(sel, "is not exported: %s" % exc)
        return
    try:
        dir_fd = fds[-1] if fds else root_fd
        found = _lstat(dir_fd, parts[-1])
        if found is None:
            return
        if stat.S_ISLNK(found.st_mode):
            skip(sel, "is a symbolic link; links are not followed")
        elif stat.S_ISREG(found.st_mode):
            yield sel, dir_fd, parts[-1]
        elif stat.S_ISDIR(found.st_mode):
            try:
                top_fd = os.open(parts[-1], _DIR_FLAGS, dir_fd=dir_fd)
            except OSError as exc:
                skip(sel, _kind(dir_fd, parts[-1]) or "could not be opened: %s" % exc.strerror)
                return
            try:
                yield from _files_below(top_fd, sel, prefix, skip)
            finally:
                os.close(top_fd)
        else:
            skip(sel, "is not a regular file")
    finally:
        _close(fds)
