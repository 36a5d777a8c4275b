# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the usage report: weeks of slurm_usage's by_account as CSV and as a stacked bar chart.

The chart is one self-contained SVG file (no font, script or style sheet to fetch) so that it can be
mailed or attached as it is, and the same weeks give the same bytes, so that a report run again on
unchanged data does not show as changed. Documented in usage_csv.yml and usage_chart_svg.yml.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
import re
from collections.abc import Mapping
from xml.sax.saxutils import escape

from ansible.errors import AnsibleFilterError

FIELDS = ("jobs", "core_hours", "node_hours", "cost")
COLUMNS = ("week", "account") + FIELDS
LABELS = {"jobs": "jobs", "core_hours": "core-hours", "node_hours": "node-hours", "cost": "cost"}
# Okabe and Ito's palette: its colours stay apart with the common colour vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

# Layout, in pixels. Text widths are estimated (no font metrics without a renderer): CHAR em per glyph.
CHAR = 0.6
SLOT = 72
BAR = 40
PLOT_HEIGHT = 240
NOTE_SIZE = 11
# Characters XML 1.0 cannot carry at all, even escaped.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _fail(message, *args):
    raise AnsibleFilterError(message % args)


def _number(value, where, nullable):
    """A count or an amount: int or float, finite, not negative (a stacked bar cannot go below zero)."""
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail("%s: %r is not a number", where, value)
    if not math.isfinite(value):
        _fail("%s: %r is not a finite number", where, value)
    if value < 0:
        _fail("%s: %r is negative", where, value)
    return value


def _weeks(weeks):
    """[(week label, [(account, {field: number or None for a cost without price})])], checked, in order.

    Every problem names the item, as weeks[i].by_account[j].field, so that the report's author finds it.
    """
    if not isinstance(weeks, (list, tuple)):
        _fail("weeks: %r is not a list of weeks", weeks)
    out = []
    for i, week in enumerate(weeks):
        where = "weeks[%d]" % i
        if not isinstance(week, Mapping):
            _fail("%s: %r is not a dict with week and by_account", where, week)
        for key in ("week", "by_account"):
            if key not in week:
                _fail("%s: no %s", where, key)
        label = week["week"]
        # An unquoted 2026-11-23 in YAML is a date.
        if isinstance(label, datetime.date):
            label = label.isoformat()
        if not isinstance(label, str) or not label:
            _fail("%s.week: %r is not a week label (a non-empty string)", where, label)
        rows = week["by_account"]
        if not isinstance(rows, (list, tuple)):
            _fail("%s.by_account: %r is not a list", where, rows)
        seen = set()
        accounts = []
        for j, row in enumerate(rows):
            row_where = "%s.by_account[%d]" % (where, j)
            if not isinstance(row, Mapping):
                _fail("%s: %r is not a dict with account, %s", row_where, row, ", ".join(FIELDS))
            for key in ("account",) + FIELDS:
                if key not in row:
                    _fail("%s: no %s", row_where, key)
            account = row["account"]
            if not isinstance(account, str) or not account:
                _fail("%s.account: %r is not an account name (a non-empty string)", row_where, account)
            if account in seen:
                # Two rows would draw two segments of one colour: the input was not grouped by account.
                _fail("%s.account: %r is already in week %s", row_where, account, label)
            seen.add(account)
            values = {key: _number(row[key], "%s.%s" % (row_where, key), key == "cost") for key in FIELDS}
            accounts.append((str(account), values))
        out.append((str(label), accounts))
    return out


def _trim(text):
    """Fixed-point text without trailing zeros (and point): 0.7500 -> 0.75, 2.0000 -> 2, 100 -> 100."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _plain(value):
    """A number with at most 6 decimals (slurm_usage's precision), never in exponent notation, ints as they are."""
    if isinstance(value, int):
        return str(int(value))
    return _trim("%.6f" % value)


def _short(value):
    """A bar's total: fewer decimals the larger it is, so that it fits above the bar."""
    if value >= 100:
        decimals = 0
    elif value >= 10:
        decimals = 1
    elif value >= 0.1 or value == 0:
        decimals = 2
    else:
        decimals = 4
    return _trim("%.*f" % (decimals, value))


def _px(value):
    return _trim("%.2f" % value)


def _text(value):
    """Text from the input as XML character data or a double-quoted attribute value."""
    return escape(NOT_XML.sub("\ufffd", value), {'"': "&quot;", "'": "&apos;"})


def _width(text, size):
    return len(text) * size * CHAR


def usage_csv(weeks):
    """weeks as CSV text: a header, then one row per week and account in the input's order."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for label, rows in _weeks(weeks):
        for account, values in rows:
            writer.writerow([label, account] + ["" if values[key] is None else _plain(values[key]) for key in FIELDS])
    return buf.getvalue()


def _ticks(top, whole):
    """Axis ticks [(value, label)]: 0 and 3 to 5 equal steps of 1, 2 or 5 times a power of ten, the
    smallest such step that reaches top. Whole numbers (jobs) never get a step below 1."""
    top = max(top, 1) if whole or top <= 0 else top
    start = math.floor(math.log10(top)) - 2
    for exponent in range(start, start + 4):
        for mantissa in (1, 2, 5):
            step = mantissa * 10.0 ** exponent
            if whole and step < 1:
                continue
            count = math.ceil(top / step - 1e-9)
            if count <= 5:
                decimals = max(0, -exponent)
                return [(i * step, "%.*f" % (decimals, i * step)) for i in range(max(3, count) + 1)]
    raise AssertionError("no tick step for %r" % top)  # pragma: no cover - 10 ** (exponent + 1) > top


def _wrap(prefix, items, max_chars):
    """prefix and items joined by ", " in lines of about max_chars, each line but the last ending in ","."""
    lines = []
    line = prefix + items[0]
    for item in items[1:]:
        if len(line) + 2 + len(item) > max_chars:
            lines.append(line + ",")
            line = item
        else:
            line += ", " + item
    lines.append(line)
    return lines


def usage_chart_svg(weeks, value="node_hours", title=None):
    """weeks as an SVG stacked bar chart of value: one bar per week, one segment per account."""
    if not isinstance(value, str) or value not in LABELS:
        _fail("usage_chart_svg: value must be one of %s, got %r", ", ".join(FIELDS), value)
    if title is not None and not isinstance(title, str):
        _fail("usage_chart_svg: title must be a string, got %r", title)
    data = _weeks(weeks)
    label = LABELS[value]
    title = "%s per account and week" % label if title is None else str(title)

    accounts = sorted({account for _week, rows in data for account, _values in rows})
    colours = {account: PALETTE[i % len(PALETTE)] for i, account in enumerate(accounts)}
    unknown = ["%s (%s)" % (account, week) for week, rows in data for account, values in rows if values[value] is None]
    bars = [(week, [(account, values[value] or 0) for account, values in sorted(rows, key=lambda row: row[0])])
            for week, rows in data]
    totals = [sum(v for _account, v in segments) for _week, segments in bars]
    top = max(totals, default=0)
    if top > 0:
        empty = None
    elif not any(values["jobs"] for _week, rows in data for _account, values in rows):
        empty = "no jobs in this period"
    elif unknown:
        empty = "no known %s in this period" % label
    else:
        empty = "no %s in this period" % label

    ticks = _ticks(top, value == "jobs")
    scale = PLOT_HEIGHT / ticks[-1][0]
    longest_week = max((_width(week, NOTE_SIZE) for week, _segments in bars), default=0)
    rotate = longest_week > SLOT - 6
    # Axis title column, tick labels, tick marks; rotated week labels reach left of the first bar.
    left = math.ceil(34 + max(_width(text, NOTE_SIZE) for _v, text in ticks) + 10)
    if rotate:
        left = max(left, math.ceil(longest_week * 0.71 - SLOT / 2 + 12))
    plot_top = 56 if title else 32
    plot_width = max(len(bars), 3) * SLOT
    base = plot_top + PLOT_HEIGHT
    below = base + 10 + (longest_week * 0.71 + 12 if rotate else 14)
    legend_x = left + plot_width + 24
    legend_width = 18 + max((_width(account, 12) for account in accounts), default=0) + 12
    width = legend_x + legend_width if accounts else left + plot_width + 24
    width = math.ceil(max(width, 24 + _width(title, 16) * 1.1))  # bold
    notes = _wrap("cost unknown for: ", unknown, max(40, int((width - 24) / (NOTE_SIZE * CHAR)))) if unknown else []
    height = math.ceil(max(below + 10 + 16 * len(notes), plot_top + 18 * len(accounts)) + 12)

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d"'
        ' font-family="sans-serif" font-size="12">' % (width, height, width, height),
        "<title>%s</title>" % _text(title),
        '<rect class="background" x="0" y="0" width="%d" height="%d" fill="#ffffff"/>' % (width, height),
    ]
    if title:
        out.append('<text class="title" x="12" y="28" font-size="16" font-weight="bold">%s</text>' % _text(title))

    out.append('<g class="y-axis" font-size="%d">' % NOTE_SIZE)
    for tick, text in ticks:
        y = _px(base - tick * scale)
        out.append('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#dddddd"/>' % (_px(left), y, _px(left + plot_width), y))
        out.append('<text class="tick" x="%s" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>'
                   % (_px(left - 6), y, text))
    middle = _px(plot_top + PLOT_HEIGHT / 2)
    out.append('<text class="axis-title" x="16" y="%s" text-anchor="middle" transform="rotate(-90 16 %s)"'
               ' font-size="12">%s</text>' % (middle, middle, _text(label)))
    out.append("</g>")

    for i, (week, segments) in enumerate(bars):
        x = left + i * SLOT + (SLOT - BAR) / 2
        out.append('<g class="bar" data-week="%s">' % _text(week))
        bottom = base
        so_far = 0
        for account, amount in segments:
            if not amount:
                continue
            so_far += amount
            y = round(base - so_far * scale, 2)
            out.append('<rect class="segment" data-account="%s" data-value="%s" x="%s" y="%s" width="%d" height="%s"'
                       ' fill="%s"><title>%s %s: %s</title></rect>'
                       % (_text(account), _plain(amount), _px(x), _px(y), BAR, _px(bottom - y), colours[account],
                          _text(account), _text(week), _plain(amount)))
            bottom = y
        if empty is None:
            out.append('<text class="total" x="%s" y="%s" text-anchor="middle">%s</text>'
                       % (_px(x + BAR / 2), _px(bottom - 5), _short(totals[i])))
        out.append("</g>")

    out.append('<line class="x-axis" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333333"/>'
               % (_px(left), _px(base), _px(left + plot_width), _px(base)))
    out.append('<line class="y-axis-line" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333333"/>'
               % (_px(left), _px(plot_top), _px(left), _px(base)))
    out.append('<g class="x-labels" font-size="%d">' % NOTE_SIZE)
    for i, (week, _segments) in enumerate(bars):
        x = _px(left + i * SLOT + SLOT / 2)
        y = _px(base + 16)
        if rotate:
            out.append('<text class="week" x="%s" y="%s" text-anchor="end" transform="rotate(-45 %s %s)">%s</text>'
                       % (x, y, x, y, _text(week)))
        else:
            out.append('<text class="week" x="%s" y="%s" text-anchor="middle">%s</text>' % (x, y, _text(week)))
    out.append("</g>")

    if empty:
        out.append('<text class="empty" x="%s" y="%s" text-anchor="middle" font-size="14" fill="#555555">%s</text>'
                   % (_px(left + plot_width / 2), middle, _text(empty)))

    if accounts:
        out.append('<g class="legend">')
        for i, account in enumerate(accounts):
            y = plot_top + 18 * i
            out.append('<rect class="legend-swatch" data-account="%s" x="%s" y="%s" width="12" height="12" fill="%s"/>'
                       % (_text(account), _px(legend_x), _px(y), colours[account]))
            out.append('<text class="legend-label" x="%s" y="%s">%s</text>' % (_px(legend_x + 18), _px(y + 10), _text(account)))
        out.append("</g>")

    for i, line in enumerate(notes):
        out.append('<text class="footnote" x="12" y="%s" font-size="%d" fill="#555555">%s</text>'
                   % (_px(below + 14 + 16 * i), NOTE_SIZE, _text(line)))
    out.append("</svg>")
    return "\n".join(out) + "\n"


class FilterModule:
    """usage_csv and usage_chart_svg, for the weeks of a usage report."""

    def filters(self):
        return {"usage_csv": usage_csv, "usage_chart_svg": usage_chart_svg}
