"""A tiny training setup shared by the trainer tests: seconds per run on a CPU."""

from vitstudio.config import Config, apply_overrides

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


def tiny_config(*overrides: str) -> Config:
    return apply_overrides(Config(), [*TINY, *overrides])


def tiny_args(*overrides: str) -> list[str]:
    """The same setup as `vitstudio train` arguments."""
    return [a for o in (*TINY, *overrides) for a in ("--set", o)]
