"""``POST /jobs`` refuses bad submissions before anything is stored (no job row, no folder), and a
config given as a mapping is written as YAML that PyYAML (what ``axon train`` reads it with) reads
back to the same mapping. The jobs themselves run real workers in
tests-integration/test_server_jobs.py."""

from __future__ import annotations

import yaml
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from axon_server import ServerConfig, create_app
from axon_server.jobs import check_submission
from axon_server.schemas import JobCreate

KEY = "jobs-unit-key-0123456789"
CONFIG = {
    "seed": 0,
    "model": {"file": "model.py", "layers": [4, 8, 3]},
    "data": {"path": "data.csv", "validation_fraction": 0.25},
    "optimizer": {"name": "AdamW", "lr": 1e-05, "weight_decay": 0.0001},
    "training": {"epochs": 2, "batch_size": 16},
}
FILES = {"model.py": "def build(layers):\n    ...\n", "data.csv": "a,label\n1,0\n"}


def test_mapping_config_is_written_as_yaml_that_reads_back_the_same():
    spec = check_submission(JobCreate(config=CONFIG, files=FILES))
    assert spec.config_file == "config.yaml" and spec.checkpoint_dir == "checkpoints" and spec.epochs == 2
    assert yaml.safe_load(spec.config_text) == CONFIG  # 1e-05 stays a float (JSON's spelling would not)
    toml = 'seed = 1\n[model]\nfile = "model.py"\n[data]\npath = "data.csv"\n[optimizer]\nlr = 0.1\n[training]\n'
    assert check_submission(JobCreate(config=toml, format="toml", files=FILES)).config_file == "config.toml"


def _with(**changes) -> dict:
    config = {k: dict(v) if isinstance(v, dict) else v for k, v in CONFIG.items()}
    for dotted, value in changes.items():
        section, _, key = dotted.partition("__")
        if key:
            config[section][key] = value
        elif value is None:
            del config[section]
        else:
            config[section] = value
    return {"config": config, "files": FILES}


BAD = [
    ({"config": "model: [unclosed", "files": FILES}, 422, "not valid YAML"),
    ({"config": "just text", "files": FILES}, 422, "must be a mapping"),
    ({"config": "x = ", "format": "toml", "files": FILES}, 422, "not valid TOML"),
    (_with(training=None), 422, "lacks the 'training' section"),
    (_with(training__epochs=0), 422, "training.epochs must be a positive integer"),
    (_with(training__epochs=10**9), 422, "up to 1000000"),
    (_with(training__batch_size=True), 422, "training.batch_size"),
    (_with(seed=-1), 422, "seed"),
    (_with(model__file="../model.py"), 422, "model.file"),
    (_with(data__path="/etc/passwd"), 422, "data.path"),
    (_with(data__path="other.csv"), 422, "neither in files nor in datasets"),
    (_with(checkpoint={"dir": "../out"}), 422, "checkpoint.dir"),
    ({**_with(), "files": {**FILES, "../evil.py": "x"}}, 400, "no path parts"),
    ({**_with(), "files": {**FILES, "job.log": "x"}}, 422, "keeps for itself"),
    ({**_with(), "datasets": {"data.csv": 1}}, 422, "both as files and datasets"),
    ({**_with(), "surprise": 1}, 422, "surprise"),
]


def test_bad_submissions_are_refused_and_leave_nothing(tmp_path):
    with TestClient(
        create_app(ServerConfig(api_key=KEY, data_dir=tmp_path)), headers={"Authorization": f"Bearer {KEY}"}
    ) as c:
        for body, status, words in BAD:
            r = c.post("/jobs", json=body)
            assert r.status_code == status and words in r.json()["error"]["message"], (body, r.text)
        body = _with(data__path="mine.csv")
        body["files"] = {"model.py": FILES["model.py"]}
        body["datasets"] = {"mine.csv": 12345}
        r = c.post("/jobs", json=body)
        assert r.status_code == 404 and "No dataset 12345" in r.json()["error"]["message"]
        assert c.get("/jobs").json() == {"data": []}
        assert not (tmp_path / "jobs").exists() or list((tmp_path / "jobs").iterdir()) == []
        assert c.get("/jobs/1").status_code == 404
        assert c.post("/jobs/1/cancel").status_code == 404
        assert "jobs" in inspect(c.app.state.database.engine).get_table_names()
