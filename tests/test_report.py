"""digex report: one self-contained HTML file per run, compare or sweep directory."""

import os
import re
import stat
from html.parser import HTMLParser

import pytest

from sim import __version__
from sim.cli.main import main
from sim.outputs.report import config_differences

TINY = ["--set", "population.size=300", "--set", "run.weeks=40", "--set", "run.analogue_reference=false"]


class Resources(HTMLParser):
    """Every src/href of a page and the tags seen."""

    def __init__(self):
        super().__init__()
        self.refs, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [(tag, k, v) for k, v in attrs if k in ("src", "href")]


def parse(path):
    page = path.read_text(encoding="utf-8")
    res = Resources()
    res.feed(page)
    return page, res


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    d = tmp_path_factory.mktemp("scenarios")
    (d / "base.yaml").write_text("name: base\ndescription: exemption only in person\nrun:\n  start: 2014-06-02\n")
    (d / "easy.yaml").write_text("extends: base.yaml\nname: easy\ndescription: automatic exemption\n"
                                 "policy:\n  optout:\n    rule: automatic\n")
    return str(d / "base.yaml"), str(d / "easy.yaml")


@pytest.fixture(scope="module")
def compare_dir(scenarios, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "cmp"
    assert main(["compare", *scenarios, "--reps", "2", *TINY, "--out", str(out), "--quiet", "--svg"]) == 0
    return out


def test_compare_report_is_self_contained_and_explains_the_comparison(compare_dir, capsys):
    out = compare_dir
    assert main(["report", str(out)]) == 0
    assert str(out / "report.html") in capsys.readouterr().out
    page, res = parse(out / "report.html")
    images = [v for tag, k, v in res.refs if tag == "img"]
    assert len(images) == len(list((out / "plots").glob("*.svg"))) == 8  # every figure of the comparison
    assert all(v.startswith("data:image/svg+xml;base64,") for v in images)  # SVG preferred when written
    assert all(v.startswith("data:") for _, _, v in res.refs)  # nothing fetched from elsewhere
    assert "script" not in res.tags and "link" not in res.tags
    for text in ("Who is excluded under each of these 2 policy settings, and at what public cost?",
                 "exemption only in person", "automatic exemption", "policy.optout.rule", "in_person",
                 "Headline results", "easy − base", "Caveats", f"digex version of the results</td><td>{__version__}",
                 "Only 2 replications per scenario",
                 "mean [95% interval over 2 replications with the calibrated point values: simulation noise only",
                 "savings against an all-analogue world are not reported"):
        assert text in page, text


def test_markdown_tables_of_a_compare_directory_for_the_docs(compare_dir, tmp_path, capsys):
    assert main(["report", str(compare_dir), "--markdown"]) == 0
    md = capsys.readouterr().out
    assert "| excluded (a failed procedure or a missed letter with a consequence, last year) | % |" in md
    assert "| group | base | easy |" in md and "| age band: 80+ |" in md
    assert "easy − base" in md and "Made by: `digex compare" in md
    (tmp_path / "manifest.json").write_text('{"kind": "sweep"}')
    (tmp_path / "summary.csv").write_text("point,metric,group_type,group,mean,ci_low,ci_high,n_reps\n"
                                          "0,exclusion_rate,all,all,0.1,0.1,0.1,1\n")
    assert main(["report", str(tmp_path), "--markdown"]) == 2
    assert "needs a compare directory" in capsys.readouterr().err


def test_report_embeds_png_figures_of_a_run_directory(scenarios, tmp_path):
    out = tmp_path / "run"
    assert main(["run", scenarios[0], "--reps", "2", *TINY, "--out", str(out), "--quiet"]) == 0
    target = tmp_path / "elsewhere.html"
    assert main(["report", str(out), "--out", str(target), "--quiet"]) == 0
    assert not (out / "report.html").exists()
    page, res = parse(target)
    images = [v for tag, k, v in res.refs if tag == "img"]
    assert images and all(v.startswith("data:image/png;base64,") for v in images)
    assert "exclusion_rate" in page and "age band: 80+" in page and "base" in page


def test_report_of_a_sweep_lists_points_and_embeds_figures(scenarios, tmp_path):
    out = tmp_path / "sweep"
    assert main(["sweep", scenarios[0], "--vary", "policy.optout.rule=in_person,automatic", "--reps", "1", *TINY,
                 "--out", str(out), "--quiet"]) == 0
    assert main(["report", str(out), "--quiet"]) == 0
    page, res = parse(out / "report.html")
    assert len([v for tag, k, v in res.refs if tag == "img"]) == 2
    assert all(v.startswith("data:") for _, _, v in res.refs)
    assert "full factorial grid" in page and "policy.optout.rule=in_person,automatic" in page
    assert re.search(r"<td>1</td><td class='num'>automatic</td>", page)


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_report_file_follows_the_umask_like_every_result_file(compare_dir, tmp_path, umask):
    target = tmp_path / "report.html"
    previous = os.umask(umask)
    try:
        assert main(["report", str(compare_dir), "--out", str(target), "--quiet"]) == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left behind


def test_report_refuses_directories_digex_did_not_write(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["report", str(tmp_path)]) == 2
    assert "not a digex run, compare or sweep directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err
    (tmp_path / "manifest.json").write_text("{broken")
    assert main(["report", str(tmp_path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def test_config_differences_lists_only_keys_that_differ():
    a = {"name": "a", "run": {"weeks": 10, "seed": 1}, "timeline": [{"date": "2014-01-01", "set": {"x": 1}}]}
    b = {"name": "b", "run": {"weeks": 20, "seed": 1}, "timeline": [{"date": "2014-01-01", "set": {"x": 2}}]}
    diff = config_differences({"a": a, "b": b})
    assert diff["key"].tolist() == ["run.weeks", "timeline[0].set.x"]
    assert diff.loc[0, "a"] == "10" and diff.loc[0, "b"] == "20"

