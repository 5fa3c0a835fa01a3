"""The per-user folders: the environment overrides them, and on Linux they stay where earlier versions put them."""

import sys
from pathlib import Path

import pytest

from vitstudio.train.runs import runs_root
from vitstudio.user_dirs import CACHE_ENV, RUNS_ENV, user_cache_dir


@pytest.fixture
def home(tmp_path, monkeypatch):
    for var in (CACHE_ENV, RUNS_ENV, "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_environment_overrides_both_folders(home, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, "~/my-cache")
    monkeypatch.setenv(RUNS_ENV, "~/my-runs")
    assert user_cache_dir() == home / "my-cache" and runs_root() == home / "my-runs"
    assert runs_root(home / "flag") == home / "flag"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG folders are Linux's")
def test_linux_folders_are_those_of_earlier_versions(home, monkeypatch):
    assert user_cache_dir() == home / ".cache" / "vitstudio"
    assert runs_root() == home / ".local" / "share" / "vitstudio" / "runs"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "xc"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xd"))
    assert user_cache_dir() == Path(home / "xc" / "vitstudio")
    assert runs_root() == home / "xd" / "vitstudio" / "runs"
