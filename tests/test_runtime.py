"""Every entry point that runs torch sets up OpenMP's threads before torch is imported (issue 16.1)."""

import os
import subprocess
import sys

import pytest

# Records OMP_WAIT_POLICY as it is when torch is first imported, then runs the entry point given as code.
CHILD = """
import os, sys
seen = []
def hook(event, args):
    if event == "import" and args[0] == "torch" and not seen:
        seen.append(os.environ.get("OMP_WAIT_POLICY"))
sys.addaudithook(hook)
{code}
print("policy at torch import:", seen[0] if seen else "torch not imported")
"""


def policy_at_torch_import(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["QT_QPA_PLATFORM"] = "offscreen"
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(code=code)], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize(
    "code",
    [
        "from vitstudio.cli import main; main(['models', 'vit_tiny*'])",
        "from vitstudio.cli import main; main(['runs', 'list', '--runs-dir', '/nonexistent-vitstudio-runs'])",
        "from vitstudio.gui.startup import import_core; import_core()",
    ],
    ids=["cli models", "cli runs", "window"],
)
def test_entry_points_make_openmp_threads_sleep(code):
    assert policy_at_torch_import(code) == "policy at torch import: PASSIVE"


@pytest.mark.slow
def test_a_users_setting_wins():
    from vitstudio.runtime import THREAD_ENV

    code = "import os; os.environ['OMP_WAIT_POLICY'] = 'ACTIVE'\nfrom vitstudio.cli import main; main(['models'])"
    assert policy_at_torch_import(code) == "policy at torch import: ACTIVE"
    assert THREAD_ENV == {"OMP_WAIT_POLICY": "PASSIVE"}
