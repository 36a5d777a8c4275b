# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks on the raw shape of a cluster configuration, before anything reads its values.

A configuration is data from the user: nested without end, full of aliases, holding a NUL or a
line break in a name, or a ``2.5`` where pcluster's schema quietly reads ``2``. Each of these
would crash or mislead the code that reads the values later (the Slurm layout, the local
provider's files), so they are refused first, under the field path they were found at.
"""

from __future__ import annotations

import math
import re

# Far deeper than any ParallelCluster configuration (about ten levels), far below Python's
# recursion limit; and far more values than a configuration holds, to stop YAML alias bombs.
MAX_DEPTH = 64
MAX_VALUES = 100000
# The largest integer the consumers of the configuration (boto3's JSON, Slurm, C programs) read.
MAX_INTEGER = 2 ** 63 - 1
# Fields that may hold line breaks and tabs: pcluster reads them as JSON documents.
MULTI_LINE_FIELDS = frozenset(["ExtraChefAttributes"])

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CONTROL_OR_LINE_BREAK = re.compile(r"[\x00-\x1f\x7f]")


def _join(path, key):
    if isinstance(key, int):
        return "%s[%d]" % (path, key)
    return "%s.%s" % (path, key) if path else str(key)


def _children(value, path):
    if isinstance(value, dict):
        return [(_join(path, key), key, item) for key, item in value.items()]
    if isinstance(value, list):
        return [(_join(path, index), None, item) for index, item in enumerate(value)]
    return []


def shape_errors(data, root="config"):
    """(field, message) for nesting deeper than MAX_DEPTH or more than MAX_VALUES values (one error at most)."""
    stack = [(data, "", 0)]
    count = 0
    while stack:
        value, path, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            return [(path or root, "the configuration holds more than %d values (YAML aliases expanded); a "
                                   "ParallelCluster configuration is far smaller, so write it out without repeated "
                                   "aliases" % MAX_VALUES)]
        if depth > MAX_DEPTH:
            return [(path or root, "nested more than %d levels deep; a ParallelCluster configuration nests about "
                                   "ten, so remove the extra levels (or the alias that refers to itself)" % MAX_DEPTH)]
        for child_path, dummy, child in _children(value, path):
            if depth >= 4:  # name where it starts, not the whole way down
                child_path = path if path.endswith("...") else path + "..."
            stack.append((child, child_path, depth + 1))
    return []


def _describe(char):
    return repr(char)[1:-1]


def plain_data_errors(data):
    """(field, message) for every key or string holding a control character (line breaks only where
    allowed), and every value that is not plain data: YAML's ``!!binary``, dates, sets, ``.nan``, ``.inf``.
    """
    errors = []
    stack = [(data, "", False)]
    while stack:
        value, path, multi_line = stack.pop()
        pattern = _CONTROL if multi_line else _CONTROL_OR_LINE_BREAK
        if value is not None and not isinstance(value, (str, bool, int, float, list, dict)):
            errors.append((path or "config", "is a %s (a YAML !!binary, date, set or other tag), not plain text or a "
                                             "number; write it as a string or a number" % type(value).__name__))
            continue
        if isinstance(value, float) and not math.isfinite(value):
            errors.append((path or "config", "%r is not a number the configuration can use; write a finite number"
                                             % value))
            continue
        if isinstance(value, str):
            found = pattern.search(value)
            if found:
                errors.append((path or "config", "contains the control character '%s'; a configuration value is "
                                                 "plain text on one line, so remove it" % _describe(found.group())))
            continue
        if isinstance(value, dict):
            for key in value:
                if isinstance(key, str) and _CONTROL_OR_LINE_BREAK.search(key):
                    errors.append((_join(path, key), "the key contains the control character '%s'; remove it"
                                   % _describe(_CONTROL_OR_LINE_BREAK.search(key).group())))
        for child_path, key, child in _children(value, path):
            stack.append((child, child_path, multi_line or key in MULTI_LINE_FIELDS))
    return sorted(errors)


def _scalar_error(field, value):
    """Why ``value`` is not what pcluster's marshmallow ``field`` means, though the schema converts it."""
    from marshmallow import fields

    if isinstance(field, fields.Boolean):
        if not isinstance(value, bool):
            return "must be true or false, not %r; write it without quotes" % (value,)
    elif isinstance(field, fields.Integer):
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be a whole number, not %r; write it without quotes or decimals" % (value,)
        if abs(value) > MAX_INTEGER:
            return "%d is out of range; use a number below 2**63" % value
    elif isinstance(field, fields.Float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number, not %r; write it without quotes" % (value,)
    return None


def scalar_type_errors(schema, data, path=""):
    """(field, message) where a value is of another type than pcluster's schema field, which converts it.

    marshmallow reads ``MaxCount: 2.5`` as 2, ``"5"`` as 5 and ``"no"`` as False; the code that
    renders Slurm's files reads the values as written, so they must already have the schema's type.
    """
    from marshmallow import fields

    errors = []
    if not isinstance(data, dict):
        return errors
    for name, field in schema.fields.items():
        key = field.data_key or name
        if key not in data or data[key] is None:
            continue
        value = data[key]
        field_path = _join(path, key)
        if isinstance(field, fields.List) and isinstance(value, list):
            inner = field.inner
            for index, item in enumerate(value):
                if isinstance(inner, fields.Nested):
                    errors.extend(scalar_type_errors(inner.schema, item, _join(field_path, index)))
                else:
                    message = _scalar_error(inner, item)
                    if message:
                        errors.append((_join(field_path, index), message))
        elif isinstance(field, fields.Nested):
            items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            for index, item in items:
                item_path = field_path if index is None else _join(field_path, index)
                errors.extend(scalar_type_errors(field.schema, item, item_path))
        else:
            message = _scalar_error(field, value)
            if message:
                errors.append((field_path, message))
    return errors
