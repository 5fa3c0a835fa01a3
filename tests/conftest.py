import gc
import os

# pytest-qt aborts without a display: render Qt offscreen in every test run.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _collect_what_is_due():
    """Once a GUI test has handed garbage collection to the UI thread's timer (`gui.worker`), tests that run no
    event loop still get theirs: what is due is collected after each test, on this (the UI) thread."""
    yield
    if not gc.isenabled():
        from vitstudio.gui.worker import collect_due

        collect_due()


def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    """Largest absolute difference relative to the reference's largest magnitude."""
    return ((ours - ref).abs().max() / ref.abs().max()).item()


def timm_pair(name: str, **kwargs):
    """timm's model `name` with random weights and ours with the same state dict (strict), both in eval mode."""
    import timm

    from vitstudio.models import create_model

    ref = timm.create_model(name, pretrained=False, **kwargs).eval()
    ours = create_model(name, **kwargs).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ours, ref


#: how long a GUI test waits for a worker's result (ms).
QT_TIMEOUT = 20_000


def wait_view(qtbot, panel, name: str, action):
    """Run `action` and wait until the panel's view `name` shows a new figure; return that figure."""
    with qtbot.waitSignal(panel.viewUpdated, check_params_cb=lambda n: n == name, timeout=QT_TIMEOUT):
        action()
    return panel.view_figure(name)


def pretraining_losses(model, x, noise, lr: float, steps: int = 5):
    """Losses of `steps` AdamW steps of a pretraining model (MAE, masked patch prediction) on one batch with
    a fixed mask, and the model's last output `(loss, pred, mask)`."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        out = model(x, noise=noise)
        opt.zero_grad()
        out[0].backward()
        opt.step()
        losses.append(out[0].item())
    return losses, out


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    """A fresh hub cache (HF_HOME) and hand-download folder (VITSTUDIO_WEIGHTS) under tmp_path, online; tests
    point HF_ENDPOINT at a `hub_server.LoopbackHub`."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("VITSTUDIO_WEIGHTS", str(tmp_path / "drop"))
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch
