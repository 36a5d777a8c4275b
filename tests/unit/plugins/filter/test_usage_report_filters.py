"""usage_csv and usage_chart_svg: the CSV read back as a spreadsheet would, the SVG parsed as XML and
measured (segments proportional to the values, colours per account, escaping, footnote, empty chart)."""

import csv
import datetime
import io
import xml.etree.ElementTree as ET

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hpc.parallelcluster.plugins.filter import usage_report
from ansible_collections.hpc.parallelcluster.plugins.filter.usage_report import usage_chart_svg, usage_csv

SVG = "{http://www.w3.org/2000/svg}"


def row(account, jobs=1, core_hours=1.0, node_hours=1.0, cost=0.1):
    return {"account": account, "jobs": jobs, "core_hours": core_hours, "node_hours": node_hours, "cost": cost}


WEEKS = [
    {"week": "2026-11-23", "by_account": [row("physics", 3, 1.5, 0.75, 0.081), row("chemistry", 1, 8, 2.25, None)]},
    {"week": "2026-11-30", "by_account": [row("physics", 2, 6.0, 1.5, 0.162), row("chemistry", 4, 16, 3.0, 0.324)]},
]


def parse(svg):
    return ET.fromstring(svg)


def by_class(root, name, tag=None):
    return [el for el in root.iter(tag and SVG + tag) if name in (el.get("class") or "").split()]


def segments(root):
    return {(seg.get("data-account"), seg.find(SVG + "title").text.split(" ")[1].rstrip(":")): seg
            for seg in by_class(root, "segment", "rect")}


def texts(root, name):
    return ["".join(el.itertext()) for el in by_class(root, name, "text")]


# usage_csv

def test_csv_has_one_row_per_week_and_account_in_input_order():
    text = usage_csv(WEEKS)
    assert text.startswith("week,account,jobs,core_hours,node_hours,cost\n")
    assert "\r" not in text and text.endswith("\n")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == [
        {"week": "2026-11-23", "account": "physics", "jobs": "3", "core_hours": "1.5", "node_hours": "0.75",
         "cost": "0.081"},
        {"week": "2026-11-23", "account": "chemistry", "jobs": "1", "core_hours": "8", "node_hours": "2.25",
         "cost": ""},
        {"week": "2026-11-30", "account": "physics", "jobs": "2", "core_hours": "6", "node_hours": "1.5",
         "cost": "0.162"},
        {"week": "2026-11-30", "account": "chemistry", "jobs": "4", "core_hours": "16", "node_hours": "3",
         "cost": "0.324"},
    ]


def test_csv_numbers_have_at_most_six_decimals_and_no_float_noise():
    weeks = [{"week": "w", "by_account": [row("a", 7, 0.1 + 0.2, 1 / 3, 123456789.123456789),
                                          row("b", 0, 1e-7, 2.0, 0.00005001)]}]
    rows = list(csv.DictReader(io.StringIO(usage_csv(weeks))))
    assert [(r["core_hours"], r["node_hours"], r["cost"]) for r in rows] == [
        ("0.3", "0.333333", "123456789.123457"), ("0", "2", "0.00005")]


def test_csv_quotes_what_needs_quoting():
    weeks = [{"week": "2026-11-23", "by_account": [row('a,"b"\nc')]}]
    rows = list(csv.DictReader(io.StringIO(usage_csv(weeks))))
    assert rows[0]["account"] == 'a,"b"\nc'


def test_csv_of_no_weeks_is_the_header():
    assert usage_csv([]) == "week,account,jobs,core_hours,node_hours,cost\n"


def test_csv_takes_a_yaml_date_as_week():
    weeks = [{"week": datetime.date(2026, 11, 23), "by_account": [row("a")]}]
    assert list(csv.DictReader(io.StringIO(usage_csv(weeks))))[0]["week"] == "2026-11-23"


# usage_chart_svg

def test_chart_segments_are_proportional_to_the_values():
    root = parse(usage_chart_svg(WEEKS))
    segs = segments(root)
    assert set(segs) == {("physics", "2026-11-23"), ("chemistry", "2026-11-23"),
                         ("physics", "2026-11-30"), ("chemistry", "2026-11-30")}
    heights = {key: float(seg.get("height")) for key, seg in segs.items()}
    values = {("physics", "2026-11-23"): 0.75, ("chemistry", "2026-11-23"): 2.25,
              ("physics", "2026-11-30"): 1.5, ("chemistry", "2026-11-30"): 3.0}
    per_unit = heights[("chemistry", "2026-11-30")] / 3.0
    assert per_unit > 10
    for key, value in values.items():
        assert heights[key] == pytest.approx(value * per_unit, abs=0.02), key
        assert segs[key].get("data-value") == usage_report._plain(value)
    # Segments of a bar stack: same x, each one's top is the next one's bottom, all on the same base.
    for week in ("2026-11-23", "2026-11-30"):
        bottom, top = segs[("chemistry", week)], segs[("physics", week)]
        assert bottom.get("x") == top.get("x")
        assert float(top.get("y")) + float(top.get("height")) == pytest.approx(float(bottom.get("y")), abs=0.01)
    base = {float(segs[("chemistry", w)].get("y")) + float(segs[("chemistry", w)].get("height"))
            for w in ("2026-11-23", "2026-11-30")}
    assert len(base) == 1
    assert float(segs[("physics", "2026-11-23")].get("x")) < float(segs[("physics", "2026-11-30")].get("x"))


def test_chart_segment_titles_name_account_week_and_value():
    root = parse(usage_chart_svg(WEEKS, "core_hours"))
    titles = sorted(seg.find(SVG + "title").text for seg in by_class(root, "segment", "rect"))
    assert titles == ["chemistry 2026-11-23: 8", "chemistry 2026-11-30: 16",
                      "physics 2026-11-23: 1.5", "physics 2026-11-30: 6"]


def test_chart_colours_are_one_per_account_by_sorted_name():
    root = parse(usage_chart_svg(WEEKS))
    fills = {}
    for seg in by_class(root, "segment", "rect"):
        fills.setdefault(seg.get("data-account"), set()).add(seg.get("fill"))
    assert fills == {"chemistry": {usage_report.PALETTE[0]}, "physics": {usage_report.PALETTE[1]}}
    swatches = {el.get("data-account"): el.get("fill") for el in by_class(root, "legend-swatch", "rect")}
    assert swatches == {"chemistry": usage_report.PALETTE[0], "physics": usage_report.PALETTE[1]}


def test_chart_colours_cycle_after_the_palette():
    names = ["acct%02d" % i for i in range(len(usage_report.PALETTE) + 2)]
    root = parse(usage_chart_svg([{"week": "w", "by_account": [row(n) for n in reversed(names)]}]))
    fills = {el.get("data-account"): el.get("fill") for el in by_class(root, "legend-swatch", "rect")}
    assert [fills[n] for n in names] == list(usage_report.PALETTE) + list(usage_report.PALETTE[:2])


def test_chart_legend_names_every_account_of_any_week():
    weeks = WEEKS + [{"week": "2026-12-07", "by_account": [row("biology", node_hours=0.5)]}]
    root = parse(usage_chart_svg(weeks))
    assert texts(root, "legend-label") == ["biology", "chemistry", "physics"]


def test_chart_labels_weeks_totals_and_axis():
    root = parse(usage_chart_svg(WEEKS))
    assert texts(root, "week") == ["2026-11-23", "2026-11-30"]
    assert texts(root, "total") == ["3", "4.5"]
    assert texts(root, "axis-title") == ["node-hours"]
    assert texts(root, "title") == ["node-hours per account and week"]
    assert root.find(SVG + "title").text == "node-hours per account and week"


@pytest.mark.parametrize("value, label", [("jobs", "jobs"), ("core_hours", "core-hours"),
                                          ("node_hours", "node-hours"), ("cost", "cost")])
def test_chart_axis_and_default_title_name_the_value(value, label):
    root = parse(usage_chart_svg(WEEKS, value=value))
    assert texts(root, "axis-title") == [label]
    assert texts(root, "title") == ["%s per account and week" % label]


@pytest.mark.parametrize("value, top, expected", [
    ("node_hours", 4.5, [0, 1, 2, 3, 4, 5]),
    ("core_hours", 22, [0, 5, 10, 15, 20, 25]),
    ("cost", 0.486, [0, 0.1, 0.2, 0.3, 0.4, 0.5]),
    ("jobs", 6, [0, 2, 4, 6]),
])
def test_chart_y_ticks_are_nice_and_reach_the_highest_bar(value, top, expected):
    root = parse(usage_chart_svg(WEEKS, value=value))
    ticks = [float(t) for t in texts(root, "tick")]
    assert ticks == pytest.approx(expected)
    assert ticks[-1] >= top


@pytest.mark.parametrize("top", [0.0007, 0.3, 1, 2.25, 7, 10, 99.9, 101, 1234.5, 5e6])
def test_ticks_are_4_to_6_steps_of_1_2_or_5_from_0(top):
    for whole in (False, True):
        if whole and top != int(top):
            continue
        ticks = usage_report._ticks(top, whole)
        values = [v for v, _text in ticks]
        assert 4 <= len(values) <= 6 and values[0] == 0 and values[-1] >= top
        step = values[1]
        assert float(("%e" % step).split("e")[0]) in (1.0, 2.0, 5.0)
        assert all(v == pytest.approx(i * step) for i, v in enumerate(values))
        assert all(float(text) == pytest.approx(v) for v, text in ticks)
        if whole:
            assert step >= 1


def test_chart_tick_marks_and_segments_share_one_scale():
    root = parse(usage_chart_svg(WEEKS))
    ticks = by_class(root, "tick", "text")
    zero, five = float(ticks[0].get("y")), float(ticks[-1].get("y"))
    seg = segments(root)[("chemistry", "2026-11-30")]
    assert float(seg.get("y")) + float(seg.get("height")) == pytest.approx(zero)
    assert float(seg.get("height")) == pytest.approx((zero - five) * 3.0 / 5, abs=0.02)


def test_chart_escapes_names_and_titles_and_still_parses():
    name = 'a<b&"c'
    weeks = [{"week": "<w1> & 'x'", "by_account": [row(name, node_hours=2), row("physics")]}]
    svg = usage_chart_svg(weeks, title='Usage <of> "Cluster" & co')
    assert name not in svg and "&lt;b&amp;&quot;c" in svg
    root = parse(svg)
    assert name in texts(root, "legend-label")
    assert texts(root, "week") == ["<w1> & 'x'"]
    assert texts(root, "title") == ['Usage <of> "Cluster" & co']
    assert {seg.get("data-account") for seg in by_class(root, "segment", "rect")} == {name, "physics"}
    assert '%s <w1> & \'x\': 2' % name in [seg.find(SVG + "title").text for seg in by_class(root, "segment", "rect")]


def test_chart_replaces_characters_xml_cannot_carry():
    root = parse(usage_chart_svg([{"week": "w", "by_account": [row("bad\x01name")]}]))
    assert texts(root, "legend-label") == ["bad\ufffdname"]


def test_chart_footnotes_unknown_costs_and_counts_them_as_zero():
    root = parse(usage_chart_svg(WEEKS, "cost"))
    assert " ".join(texts(root, "footnote")) == "cost unknown for: chemistry (2026-11-23)"
    segs = segments(root)
    assert ("chemistry", "2026-11-23") not in segs
    # Totals are rounded to fit above the bar (2 decimals from 0.1, 4 below); titles keep 4.
    assert texts(root, "total") == ["0.081", "0.49"]
    assert segs[("chemistry", "2026-11-30")].find(SVG + "title").text == "chemistry 2026-11-30: 0.324"
    # Only cost has unknowns: the other values draw no footnote.
    assert texts(parse(usage_chart_svg(WEEKS, "node_hours")), "footnote") == []


def test_chart_footnote_wraps_and_keeps_every_unknown_in_order():
    weeks = [{"week": "2026-W%02d" % w, "by_account": [row("account-%d" % a, cost=None) for a in range(6)]}
             for w in range(1, 4)]
    root = parse(usage_chart_svg(weeks, "cost"))
    lines = texts(root, "footnote")
    assert len(lines) > 1
    expected = ", ".join("account-%d (2026-W%02d)" % (a, w) for w in range(1, 4) for a in range(6))
    assert " ".join(lines) == "cost unknown for: " + expected
    ys = [float(el.get("y")) for el in by_class(root, "footnote", "text")]
    assert ys == sorted(ys) and max(ys) < float(root.get("height"))
    assert texts(root, "empty") == ["no known cost in this period"]


@pytest.mark.parametrize("weeks", [
    [],
    [{"week": "2026-11-23", "by_account": []}],
    [{"week": "2026-11-23", "by_account": [row("physics", 0, 0, 0, 0)]}],
])
def test_chart_without_jobs_still_draws_axes_and_says_so(weeks):
    root = parse(usage_chart_svg(weeks))
    assert texts(root, "empty") == ["no jobs in this period"]
    assert by_class(root, "x-axis", "line") and by_class(root, "y-axis-line", "line")
    assert len(texts(root, "tick")) >= 4
    assert by_class(root, "segment", "rect") == [] and texts(root, "total") == []


def test_chart_with_jobs_but_none_of_the_value_names_the_value():
    weeks = [{"week": "2026-11-23", "by_account": [row("physics", 2, 0, 0, 0)]}]
    assert texts(parse(usage_chart_svg(weeks)), "empty") == ["no node-hours in this period"]
    assert texts(parse(usage_chart_svg(weeks, "jobs")), "empty") == []


def test_chart_is_deterministic_and_self_contained():
    first = usage_chart_svg(WEEKS, "cost", "t")
    assert first == usage_chart_svg([dict(w) for w in WEEKS], "cost", "t")
    assert first.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg ')
    root = parse(first)
    assert root.tag == SVG + "svg" and root.get("version") == "1.1"
    assert not [el for el in root.iter() if el.tag in (SVG + "script", SVG + "style", SVG + "image", SVG + "use")]
    assert "href" not in first and "@import" not in first and "url(" not in first


def test_chart_fits_everything_in_its_viewbox():
    accounts = [row("a-rather-long-account-name-%d" % a) for a in range(12)]
    weeks = [{"week": "week %d of a long year" % w, "by_account": accounts} for w in range(6)]
    root = parse(usage_chart_svg(weeks, title="A title that is longer than most " * 2))
    width, height = float(root.get("width")), float(root.get("height"))
    assert root.get("viewBox") == "0 0 %d %d" % (width, height)
    for el in root.iter():
        for attr in ("x", "y"):
            if el.get(attr) is not None:
                assert 0 <= float(el.get(attr)) <= (width if attr == "x" else height), (el.tag, el.attrib)
    assert len(texts(root, "legend-label")) == 12


# invalid input

@pytest.mark.parametrize("weeks, message", [
    ({"week": "w"}, "weeks: {'week': 'w'} is not a list of weeks"),
    ("2026-11-23", "weeks: '2026-11-23' is not a list of weeks"),
    ([{"week": "w", "by_account": []}, "x"], "weeks[1]: 'x' is not a dict with week and by_account"),
    ([{"by_account": []}], "weeks[0]: no week"),
    ([{"week": "w"}], "weeks[0]: no by_account"),
    ([{"week": "", "by_account": []}], "weeks[0].week: '' is not a week label"),
    ([{"week": 47, "by_account": []}], "weeks[0].week: 47 is not a week label"),
    ([{"week": "w", "by_account": {"physics": {}}}], "weeks[0].by_account: {'physics': {}} is not a list"),
    ([{"week": "w", "by_account": [row("a"), "b"]}], "weeks[0].by_account[1]: 'b' is not a dict with account"),
    ([{"week": "w", "by_account": [{"account": "a", "jobs": 1}]}], "weeks[0].by_account[0]: no core_hours"),
    ([{"week": "w", "by_account": [row(None)]}], "weeks[0].by_account[0].account: None is not an account name"),
    ([{"week": "w", "by_account": [row("a"), row("a")]}], "weeks[0].by_account[1].account: 'a' is already in week w"),
    ([{"week": "w", "by_account": []}, {"week": "v", "by_account": []},
      {"week": "u", "by_account": [row("a", node_hours="abc")]}],
     "weeks[2].by_account[0].node_hours: 'abc' is not a number"),
    ([{"week": "w", "by_account": [row("a", jobs=True)]}], "weeks[0].by_account[0].jobs: True is not a number"),
    ([{"week": "w", "by_account": [row("a", jobs=None)]}], "weeks[0].by_account[0].jobs: None is not a number"),
    ([{"week": "w", "by_account": [row("a", cost=float("nan"))]}], "weeks[0].by_account[0].cost: nan is not a finite"),
    ([{"week": "w", "by_account": [row("a", core_hours=-1.5)]}], "weeks[0].by_account[0].core_hours: -1.5 is negative"),
])
def test_invalid_input_names_the_item(weeks, message):
    for render in (usage_csv, usage_chart_svg):
        with pytest.raises(AnsibleFilterError) as failure:
            render(weeks)
        assert message in str(failure.value)


@pytest.mark.parametrize("value", ["node-hours", "cpu_hours", "", None, ["cost"]])
def test_chart_refuses_another_value_naming_the_allowed_ones(value):
    with pytest.raises(AnsibleFilterError) as failure:
        usage_chart_svg(WEEKS, value=value)
    assert str(failure.value).startswith(
        "usage_chart_svg: value must be one of jobs, core_hours, node_hours, cost, got %r" % (value,))


def test_chart_refuses_a_title_that_is_not_a_string():
    with pytest.raises(AnsibleFilterError, match="title must be a string, got 5"):
        usage_chart_svg(WEEKS, title=5)


def test_filter_module_offers_both_filters():
    assert usage_report.FilterModule().filters() == {"usage_csv": usage_csv, "usage_chart_svg": usage_chart_svg}


def test_filters_work_by_their_names_in_a_template():
    """As the usage report playbook calls them: by FQCN, value and title positional, data from YAML."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    loader = DataLoader()
    weeks = loader.load("""
- week: 2026-11-23
  by_account:
    - {account: physics, jobs: 3, core_hours: 1.5, node_hours: 0.75, cost: 0.081}
    - {account: chemistry, jobs: 1, core_hours: 8, node_hours: 2.25, cost: null}
""")
    templar = Templar(loader=loader, variables={"weeks": weeks})
    text = templar.template(trust_as_template("{{ weeks | hpc.parallelcluster.usage_csv }}"))
    assert text == usage_csv([{"week": "2026-11-23", "by_account": WEEKS[0]["by_account"]}])
    svg = templar.template(trust_as_template("{{ weeks | hpc.parallelcluster.usage_chart_svg('cost', 'Cost, ' ~ 'c1') }}"))
    root = parse(svg)
    assert texts(root, "title") == ["Cost, c1"]
    assert " ".join(texts(root, "footnote")) == "cost unknown for: chemistry (2026-11-23)"
