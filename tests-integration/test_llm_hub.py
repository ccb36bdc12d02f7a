"""axon_llm.hub's registry against the files the PyPI packages ship: sha256 (hashlib) and sizes,
parameter counts from gguf-py's and safetensors' readers, and a real-registry fetch through a local
HTTP mirror (all-MiniLM-L6-v2's eight files, 91 MB) into an empty cache."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import importlib.util
import os
import threading

import numpy as np
import pytest

from axon_llm import hub
from axon_llm.hub import REGISTRY, fetch_model
from axon_llm.tokenization import PretrainedTokenizer

pytestmark = pytest.mark.slow


def _package_dir(model):
    spec = importlib.util.find_spec(model.package)
    return os.path.join(spec.submodule_search_locations[0], model.package_folder)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_hashes_and_sizes_are_the_shipped_files(name):
    model = REGISTRY[name]
    folder = _package_dir(model)
    for file in model.files:
        path = os.path.join(folder, file.name)
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        assert digest.hexdigest() == file.sha256, file.name
        assert os.path.getsize(path) == file.size, file.name
        assert file.url.startswith("https://huggingface.co/") and file.url.endswith("/" + file.name)


def test_parameter_counts_from_the_files():
    import gguf
    from safetensors.numpy import load_file

    smol = REGISTRY["smollm2-135m-instruct-q4_1"]
    reader = gguf.GGUFReader(os.path.join(_package_dir(smol), smol.entry))
    assert sum(int(np.prod(t.shape)) for t in reader.tensors) == smol.parameters
    minilm = REGISTRY["all-minilm-l6-v2"]
    tensors = load_file(os.path.join(_package_dir(minilm), "model.safetensors"))
    assert sum(v.size for v in tensors.values() if v.dtype.kind == "f") == minilm.parameters  # position_ids is int


def test_installed_packages_serve_the_registry_offline(tmp_path):
    smol = fetch_model("SmolLM2-135M-Instruct-Q4_1", cache_dir=tmp_path, offline=True)
    expected = os.path.join(_package_dir(REGISTRY["smollm2-135m-instruct-q4_1"]), "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert str(smol) == os.path.normpath(expected)
    folder = fetch_model("all-MiniLM-L6-v2", cache_dir=tmp_path, offline=True)
    assert PretrainedTokenizer.from_pretrained(folder).encode("Hello world") == [101, 7592, 2088, 102]


def test_real_registry_entry_downloads_through_an_http_mirror(tmp_path, monkeypatch):
    model = REGISTRY["all-minilm-l6-v2"]
    mirror = tmp_path / "mirror"
    os.makedirs(mirror)
    os.symlink(_package_dir(model), mirror / model.name)
    monkeypatch.setitem(REGISTRY, "all-minilm-l6-v2", dataclasses.replace(model, package=None))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        folder = fetch_model("all-MiniLM-L6-v2", cache_dir=tmp_path / "cache", mirror=url)
    finally:
        server.shutdown()
        server.server_close()
    assert folder == tmp_path / "cache" / model.name
    for file in model.files:
        assert hashlib.sha256((folder / file.name).read_bytes()).hexdigest() == file.sha256
    leftovers = [p for p in os.listdir(folder) if p.endswith(".partial")]
    assert leftovers == []
    assert hub.hub_cache_dir() != folder.parent  # the cache_dir argument was used, not the user's cache
