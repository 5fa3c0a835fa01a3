"""Pretrained weights from the Hugging Face hub and torchvision's weight enums: fetched once, checked, loaded.

    path = fetch_weights(pretrained_cfg("vit_base_patch16_224.augreg2_in21k_ft_in1k"))   # a local file

The catalogue (`resolve_pretrained`, `load_pretrained_weights`, `create_model(..., pretrained=True)`) decides
which weights; this module only fetches files.

Hub files go through `huggingface_hub` into its cache (shared with timm and transformers); a file already
there, or one put by hand into `local_weights_dir()/<repo>/<file>`, is used without asking the network.
`HF_ENDPOINT`, `HF_HOME` / `HF_HUB_CACHE` and `HF_HUB_OFFLINE` are read at each call (huggingface_hub reads
them once, at import). A download is checked against the hub's hash (its ETag) before it is used: a partial
or corrupt file is removed from the cache and reported, never loaded. torchvision's files go through
`torch.hub` (its cache, hash-checked) and are read with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import torch
from huggingface_hub import hf_hub_download, try_to_load_from_cache
from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError

from ..user_dirs import user_cache_dir

if TYPE_CHECKING:  # the catalogue resolves tags and calls this module, never the other way round
    from .catalogue import PretrainedCfg

DROP_ENV = "VITSTUDIO_WEIGHTS"
_DEFAULT_ENDPOINT = "https://huggingface.co"


class WeightsUnavailable(OSError):
    """Pretrained weights that could not be had: no network, not on the hub, or a bad download."""


class DownloadCancelled(Exception):
    """Raised from a progress callback to stop a download (the partial file is discarded)."""


def local_weights_dir() -> Path:
    """Where hand-downloaded hub files go: `$VITSTUDIO_WEIGHTS`, else `<vitstudio cache>/weights`;
    a file of repository `org/name` is looked for at `<here>/org/name/<file>`."""
    return Path(os.environ[DROP_ENV]).expanduser() if os.environ.get(DROP_ENV) else user_cache_dir() / "weights"


def _hub_settings() -> tuple[str, str, bool]:
    """(endpoint, cache folder, offline) from the environment now, as huggingface_hub would read them."""
    endpoint = os.environ.get("HF_ENDPOINT", _DEFAULT_ENDPOINT).rstrip("/")
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    cache = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE") or os.path.join(home, "hub")
    offline = os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")
    return endpoint, os.path.expanduser(cache), offline


def progress_callback(report, cancelled=lambda: False):
    """A `tqdm_class` for `hub_file` that calls `report(done_bytes, total_bytes or None)` for each chunk and
    stops the download (`DownloadCancelled`) once `cancelled()` is true."""

    class Progress:
        def __init__(self, total=None, initial=0, **_):
            self.total, self.n = total, initial or 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def close(self):
            pass

        def update(self, n=1):
            if cancelled():
                raise DownloadCancelled("the download was cancelled")
            self.n += n
            report(self.n, self.total)

    return Progress


def cached_hub_file(repo: str, filename: str) -> Path | None:
    """The local copy of a hub file (hand-put or in the hub cache), or None; never asks the network."""
    dropped = local_weights_dir() / repo / filename
    if dropped.is_file():
        return dropped
    cached = try_to_load_from_cache(repo, filename, cache_dir=_hub_settings()[1])
    return Path(cached) if isinstance(cached, str) else None


def hub_file(repo: str, filename: str, tqdm_class=None) -> Path:
    """A file of a hub repository: the local copy, else downloaded (and checked) into the hub cache.

    Raises `FileNotFoundError` if the repository has no such file, `WeightsUnavailable` if it cannot be had.
    `tqdm_class` shows the download's progress (huggingface_hub's own bar by default); raising
    `DownloadCancelled` from its `update` stops it.
    """
    if (path := cached_hub_file(repo, filename)) is not None:
        return path
    endpoint, cache, offline = _hub_settings()
    if offline:
        raise WeightsUnavailable(_unavailable(repo, filename, "HF_HUB_OFFLINE is set and it is not in the cache"))
    if not _reachable(endpoint):  # else huggingface_hub retries for half a minute before it gives up
        raise WeightsUnavailable(_unavailable(repo, filename, f"{endpoint} cannot be reached"))
    try:
        path = Path(hf_hub_download(repo, filename, cache_dir=cache, endpoint=endpoint, tqdm_class=tqdm_class))
    except (EntryNotFoundError, RepositoryNotFoundError) as e:
        if isinstance(e, LocalEntryNotFoundError):  # the network is down (no such file in the cache)
            raise WeightsUnavailable(_unavailable(repo, filename, f"{endpoint} cannot be reached")) from None
        raise FileNotFoundError(f"the hub repository {repo} has no file {filename}") from None
    except (OSError, ValueError) as e:  # connection, HTTP and consistency (size) errors
        raise WeightsUnavailable(_unavailable(repo, filename, _first_line(e))) from None
    _verify(path, repo, filename)
    return path


def _reachable(endpoint: str, timeout: float = 5.0) -> bool:
    """Whether a connection to the endpoint's host opens (assumed so behind a proxy: the proxy decides)."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")):
        return True
    url = urlsplit(endpoint)
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout).close()
    except OSError:
        return False
    return True


def _verify(path: Path, repo: str, filename: str) -> None:
    """Check a fresh download against its blob's name (the hub's ETag: sha256 for LFS files, git's sha1
    otherwise); a mismatch removes the file from the cache and raises."""
    blob = path.resolve()
    etag = blob.name
    if len(etag) == 64:
        digest = _hash_file(blob, hashlib.sha256())
    elif len(etag) == 40:
        digest = _hash_file(blob, hashlib.sha1(f"blob {blob.stat().st_size}\0".encode()))
    else:
        return  # not a hash: nothing to check against
    if digest != etag:
        blob.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        raise WeightsUnavailable(
            f"the download of {filename} from {repo} is corrupt (its hash is not the hub's); "
            "it was removed from the cache: try again"
        )


def _hash_file(path: Path, h) -> str:
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _unavailable(repo: str, filename: str, reason: str) -> str:
    return (
        f"cannot download {filename} of the Hugging Face hub repository {repo}: {reason}. Without a network: "
        f"download {_DEFAULT_ENDPOINT}/{repo}/resolve/main/{filename} by hand and put it at "
        f"{local_weights_dir() / repo / filename}, or load it with --weights FILE"
    )


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def fetch_weights(cfg: PretrainedCfg, tqdm_class=None):
    """The weights of a tag: a local file (hub), or a state dict (torchvision, from torch.hub's cache)."""
    if cfg.hub_repo is None:
        return _torchvision_state_dict(cfg)
    for filename in cfg.files:  # any of them on this machine first: no request at all
        if (path := cached_hub_file(cfg.hub_repo, filename)) is not None:
            return path
    for filename in cfg.files:
        try:
            return hub_file(cfg.hub_repo, filename, tqdm_class)
        except FileNotFoundError:
            continue
    raise WeightsUnavailable(f"the hub repository {cfg.hub_repo} has none of {', '.join(cfg.files)}")


def is_cached(cfg: PretrainedCfg) -> bool:
    """Whether the tag's weights are on this machine (they load without the network)."""
    if cfg.hub_repo is None:
        return _torchvision_cache_path(cfg).is_file()
    return any(cached_hub_file(cfg.hub_repo, f) is not None for f in cfg.files)


def _torchvision_weights(cfg: PretrainedCfg):
    import torchvision  # deferred: torchvision's model zoo takes a second to import

    enum_name, _, member = cfg.source.removeprefix("torchvision:").partition(".")
    return getattr(getattr(torchvision.models, enum_name), member)


def _torchvision_cache_path(cfg: PretrainedCfg) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(_torchvision_weights(cfg).url)


def _torchvision_state_dict(cfg: PretrainedCfg) -> dict:
    url = _torchvision_weights(cfg).url
    try:
        return torch.hub.load_state_dict_from_url(url, map_location="cpu", check_hash=True, weights_only=True)
    except (OSError, RuntimeError) as e:  # no network (URLError is an OSError), or a hash mismatch
        raise WeightsUnavailable(
            f"cannot download torchvision's {cfg.source.removeprefix('torchvision:')} from {url}: "
            f"{_first_line(e)}. Without a network: download it by hand and put it at "
            f"{_torchvision_cache_path(cfg)}, or load it with --weights FILE"
        ) from None
