"""A wheel of the project holds every module and resource, and works installed outside the source tree."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

READ_BACK = """
import sys
from pathlib import Path
import vitstudio
from vitstudio.config import list_presets, load_config
from vitstudio.analysis import bundled_images
from vitstudio.cli import main

assert Path(vitstudio.__file__).is_relative_to(sys.argv[1]), vitstudio.__file__
assert list_presets() == ["cifar10", "quick"], list_presets()
images = bundled_images()
assert images and all(Path(p).is_relative_to(sys.argv[1]) for p in images), images
model = load_config("quick").model.name
sys.exit(main(["inspect", str(images[0]), "--model", model, "--distance-images", "0", "--out", sys.argv[2]]))
"""


@pytest.mark.slow
def test_wheel_holds_the_resources_and_works_installed(tmp_path):
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    for name in ("vitstudio", "resources"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", str(source), "-w", str(tmp_path)], check=True)
    [wheel] = tmp_path.glob("vitstudio-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "vitstudio").rglob("*.py")}
    resources = {
        "vitstudio/resources/" + p.relative_to(REPO / "resources").as_posix()
        for p in (REPO / "resources").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert {"vitstudio/resources/presets/quick.toml", "vitstudio/resources/images/CREDITS.md"} <= resources
    assert modules | resources <= names, sorted((modules | resources) - names)

    target = tmp_path / "installed"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True)
    outside = tmp_path / "elsewhere"  # not the checkout: `vitstudio` can only come from the installed wheel
    outside.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-c", READ_BACK, str(target), str(outside / "figs")],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (outside / "figs" / "patches.png").is_file() and (outside / "figs" / "rollout.png").is_file()
