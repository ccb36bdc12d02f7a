import pytest


@pytest.fixture(autouse=True)
def _kernel_cache(tmp_path_factory, monkeypatch):
    # one cache folder per test session: kernels compiled by one test are reused by the next
    monkeypatch.setenv("AXON_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "axon-cache"))
