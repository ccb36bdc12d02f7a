"""The installed ``axon`` entry point on data and runs: ``data`` (statistics vs NumPy, the splits'
rows vs the permutation axon train uses, text columns vs collections.Counter), ``dataset``
(list / add / remove in an AXON_HOME registry; sha256 vs hashlib) and ``report`` (the HTML's tables
equal the run's ``--metrics`` log, its SVG points map back to the logged losses, its config is
config.yaml's)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from html.parser import HTMLParser

import numpy as np
import yaml


def _csv(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 3.0, size=(41, 3))
    colours = rng.choice(["red", "green", "blue"], size=41, p=[0.5, 0.3, 0.2])
    labels = rng.integers(0, 4, size=41)
    lines = ["a,b,c,colour,label"] + [
        f"{r[0]:.5f},{r[1]:.5f},{'' if i == 7 else f'{r[2]:.5f}'},{c},{y}"
        for i, (r, c, y) in enumerate(zip(x, colours, labels, strict=True))
    ]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    return lines


def test_data_statistics_and_splits(axon, tmp_path):
    lines = _csv(tmp_path)
    shown = axon(
        "data", "t.csv", "--rows", "3", "--val", "0.25", "--test", "0.1", "--out", "splits", "--json", cwd=tmp_path
    )
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    cells = [line.split(",") for line in lines[1:]]
    assert report["rows"] == 41 and report["columns"] == lines[0].split(",")
    assert report["preview"] == [dict(zip(report["columns"], row, strict=True)) for row in cells[:3]]
    for i, name in enumerate("abc"):
        values = np.array([float(r[i]) for r in cells if r[i] != ""])
        stats = report["stats"][name]
        assert stats["count"] == len(values) and stats["missing"] == 41 - len(values)
        np.testing.assert_allclose(
            [stats[k] for k in ("mean", "std", "min", "p25", "p50", "p75", "max")],
            [values.mean(), values.std(ddof=1), values.min(), *np.percentile(values, [25, 50, 75]), values.max()],
            rtol=1e-12,
        )
    colours = Counter(r[3] for r in cells)
    assert report["stats"]["colour"]["unique"] == len(colours)
    assert (report["stats"]["colour"]["top"], report["stats"]["colour"]["freq"]) == colours.most_common(1)[0]
    assert report["stats"]["label"]["classes"] == {
        str(k): v for k, v in sorted(Counter(int(r[4]) for r in cells).items())
    }

    order = np.random.default_rng(0).permutation(41)
    want = {"val": order[:10], "test": order[10:14], "train": order[14:]}
    assert report["splits"] == {k: len(v) for k, v in want.items()}
    for name, idx in want.items():
        written = (tmp_path / "splits" / f"{name}.csv").read_text().splitlines()
        assert written[0] == lines[0] and written[1:] == [lines[1 + i] for i in sorted(idx)]

    text = axon("data", "t.csv", cwd=tmp_path)
    assert text.returncode == 0 and "41 rows, 5 columns" in text.stdout and "statistics" in text.stdout
    bad = axon("data", "t.csv", "--val", "0.7", "--test", "0.4", cwd=tmp_path)
    assert bad.returncode == 2 and "--val" in bad.stderr
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    ragged = axon("data", "ragged.csv", cwd=tmp_path)
    assert ragged.returncode == 1 and "ragged.csv:3" in ragged.stderr


def test_dataset_registry(axon, tmp_path):
    _csv(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.bin").write_bytes(b"\1" * 10)
    env = {**os.environ, "AXON_HOME": str(tmp_path / "home")}
    assert axon("dataset", "add", "table", "t.csv", "--description", "a test", cwd=tmp_path, env=env).returncode == 0
    assert axon("dataset", "add", "pics", "images", cwd=tmp_path, env=env).returncode == 0
    listed = axon("dataset", "list", "--json", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    registry = json.loads(listed.stdout)
    assert registry == json.loads((tmp_path / "home" / "datasets.json").read_text())
    table = registry["table"]
    assert table["path"] == str(tmp_path / "t.csv") and table["rows"] == 41 and table["description"] == "a test"
    assert table["sha256"] == hashlib.sha256((tmp_path / "t.csv").read_bytes()).hexdigest()
    assert registry["pics"] == {
        "path": str(tmp_path / "images"),
        "kind": "folder",
        "files": 1,
        "bytes": 10,
        "description": "",
    }
    by_name = axon("data", "table", "--json", cwd=tmp_path / "images", env=env)
    assert by_name.returncode == 0 and json.loads(by_name.stdout)["rows"] == 41
    twice = axon("dataset", "add", "table", "t.csv", cwd=tmp_path, env=env)
    assert twice.returncode == 1 and "--replace" in twice.stderr
    assert axon("dataset", "remove", "table", cwd=tmp_path, env=env).returncode == 0
    assert sorted(json.loads(axon("dataset", "list", "--json", cwd=tmp_path, env=env).stdout)) == ["pics"]
    missing = axon("dataset", "remove", "table", cwd=tmp_path, env=env)
    assert missing.returncode == 1 and "no dataset named 'table'" in missing.stderr
    assert not [p for p in (tmp_path / "home").iterdir() if p.name != "datasets.json"]  # no temporary files left


class _Tables(HTMLParser):
    """The cell texts of each <table id=...>, the <svg> attributes, the polylines and <pre id=config>."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.svg: dict[str, str] = {}
        self.lines: dict[str, str] = {}
        self.config = ""
        self._table = self._cell = None
        self._in_config = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs["id"], [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = ""
        elif tag == "svg":
            self.svg = attrs
        elif tag == "polyline":
            self.lines[attrs["data-series"]] = attrs["points"]
        elif tag == "pre" and attrs.get("id") == "config":
            self._in_config = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._table[-1].append(self._cell)
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "pre":
            self._in_config = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._in_config:
            self.config += data


def test_report_numbers_equal_the_run_log(axon, tmp_path):
    assert axon("new", "demo", cwd=tmp_path).returncode == 0
    project = tmp_path / "demo"
    (project / "config.yaml").write_text((project / "config.yaml").read_text().replace("epochs: 10", "epochs: 3"))
    trained = axon("train", "config.yaml", "--metrics", "run.jsonl", "--json", cwd=project)
    assert trained.returncode == 0, trained.stderr
    made = axon("report", "run.jsonl", "--out", "report.html", cwd=project)
    assert made.returncode == 0, made.stderr
    page = _Tables()
    page.feed((project / "report.html").read_text())
    records = [json.loads(line) for line in (project / "run.jsonl").read_text().splitlines()]
    epochs = [r for r in records if r["event"] == "epoch"]
    steps = [r for r in records if r["event"] == "step"]
    assert epochs == [{"event": "epoch", "step": r["epoch"] * 6, **r} for r in json.loads(trained.stdout)["epochs"]]

    header, *rows = page.tables["epochs"]
    assert header == ["epoch", "step", "loss", "val_loss", "val_accuracy"]
    assert [[float(c) for c in row] for row in rows] == [[e[k] for k in header] for e in epochs]
    final = {k: v for k, v in page.tables["final"][1:]}
    assert float(final["loss"]) == epochs[-1]["loss"] and float(final["val_accuracy"]) == epochs[-1]["val_accuracy"]
    assert json.loads(page.config) == yaml.safe_load((project / "config.yaml").read_text())

    left, top, right, bottom = map(float, page.svg["data-box"].split())
    x0, x1 = map(float, page.svg["data-x-range"].split())
    y0, y1 = map(float, page.svg["data-y-range"].split())

    def data_points(series):
        pairs = np.array([[float(v) for v in p.split(",")] for p in page.lines[series].split()])
        x = x0 + (pairs[:, 0] - left) / (right - left) * (x1 - x0)
        y = y0 + (bottom - pairs[:, 1]) / (bottom - top) * (y1 - y0)
        return x, y

    tolerance = 0.006 * (y1 - y0) / (bottom - top)  # points are written to 0.01 px
    x, y = data_points("train loss")
    np.testing.assert_allclose(x, [1, 2, 3], atol=1e-3)
    np.testing.assert_allclose(y, [e["loss"] for e in epochs], atol=tolerance)
    _, y = data_points("val loss")
    np.testing.assert_allclose(y, [e["val_loss"] for e in epochs], atol=tolerance)
    x, y = data_points("step loss")
    assert len(y) == len(steps) == 18
    np.testing.assert_allclose(y, [s["loss"] for s in steps], atol=tolerance)
    np.testing.assert_allclose(x[5::6], [1, 2, 3], atol=1e-3)
    assert re.search(r"3 epochs, 18 optimizer steps", (project / "report.html").read_text())

    missing = axon("report", "nothing.jsonl", cwd=project)
    assert missing.returncode == 1 and "no such metrics log" in missing.stderr
