"""Every collective on 2 and 4 real MPI ranks against NumPy on the concatenated inputs (mpi_collectives.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("mpi4py", reason="needs axon-distributed[mpi]")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = _load("_mpi_run")
cases = _load("mpi_collectives")
HERE = run.HERE

WORLDS = (2, 4)


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[int, list[dict]]:
    found = {}
    for n in WORLDS:
        out = tmp_path_factory.mktemp(f"world{n}")
        proc = run.launch(n, HERE / "mpi_collectives.py", out, timeout=240)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        found[n] = run.rank_reports(out, n)
    return found


def test_the_table_covers_every_collective_dtype_layout_and_mode() -> None:
    names = set(cases.CASES)
    for collective in ("all_reduce", "broadcast", "reduce", "all_gather", "all_gather_into_tensor",
                       "reduce_scatter", "reduce_scatter_tensor", "gather", "scatter", "send_recv_ring"):  # fmt: skip
        for dtype in cases.DTYPES:
            assert any(n.startswith(f"{collective}[{dtype}-") and "-view" in n for n in names), (collective, dtype)
            assert any(n.startswith(f"{collective}[{dtype}-") and n.endswith("-async]") for n in names)
    assert len(names) > 600


@pytest.mark.parametrize("world", WORLDS)
@pytest.mark.parametrize("name", list(cases.CASES))
def test_collective_matches_numpy(reports, world: int, name: str) -> None:
    failures = {r: rep[name] for r, rep in enumerate(reports[world]) if rep.get(name) != "ok"}
    assert not failures, "\n".join(f"rank {r}:\n{text}" for r, text in failures.items())
