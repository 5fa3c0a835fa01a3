"""A tiny training setup shared by the trainer tests: seconds per run on a CPU."""

from vitstudio.config import Config, apply_overrides
from vitstudio.train.objectives import Supervised

TINY_MODEL = [
    "model.name=vit_nano_patch4_32",
    "model.patch_size=8",
    "model.embed_dim=32",
    "model.depth=1",
    "model.num_heads=2",
]
TINY_RUN = [
    "data.num_train=64",
    "data.val_fraction=0.25",
    "data.num_workers=0",
    "optim.epochs=2",
    "optim.batch_size=16",
    "optim.lr=2e-3",
    "optim.warmup_epochs=0.5",
    "runtime.log_every=1",
    "runtime.device=cpu",
]
TINY = TINY_MODEL + TINY_RUN
#: the [base] lines of a study that trains the smallest model, in seconds
TINY_STUDY_BASE = """preset = "quick"
model.name = "vit_nano_patch4_32"
model.embed_dim = 16
model.depth = 1
model.num_heads = 2
"""


def tiny_config(*overrides: str) -> Config:
    return apply_overrides(Config(), [*TINY, *overrides])


def tiny_args(*overrides: str) -> list[str]:
    """The same setup as `vitstudio train` arguments."""
    return [a for o in (*TINY, *overrides) for a in ("--set", o)]


def nan_loss_from_step(monkeypatch, step: int):
    """Make the supervised loss NaN from its `step`-th call on; return the real loss function."""
    finite_loss, calls = Supervised.loss, {"n": 0}

    def loss(self, model, images, targets):
        calls["n"] += 1
        value = finite_loss(self, model, images, targets)
        return value * float("nan") if calls["n"] >= step else value

    monkeypatch.setattr(Supervised, "loss", loss)
    return finite_loss
