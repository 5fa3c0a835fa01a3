import os

# pytest-qt aborts without a display: render Qt offscreen in every test run.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


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
