"""The core (models, data, train, analysis, config) must import without Qt."""

import importlib.util
import subprocess
import sys

import pytest

CORE = [
    "vitstudio.models",
    "vitstudio.data",
    "vitstudio.train",
    "vitstudio.analysis",
    "vitstudio.config",
    "vitstudio.charts",
    "vitstudio.studies",
]


@pytest.mark.slow
@pytest.mark.parametrize("module", [m for m in CORE if importlib.util.find_spec(m) is not None])
def test_core_module_loads_no_qt(module):
    code = (
        f"import sys, {module}\n"
        "qt = ('PySide6', 'pyqtgraph', 'PyQt5', 'PyQt6', 'shiboken6')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in qt)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"{module} imports Qt: {out}"
