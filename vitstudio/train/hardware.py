"""What a run trains on and in: `runtime.device` and `runtime.precision` resolved for this machine and model.

The device: `auto` is the CUDA device when there is one, else the CPU. The precision: `auto` trains with bf16
autocast where that is faster: on GPUs that do bf16 in hardware (Ampere and later; V100 and T4 emulate it), and
on CPUs with AMX (Intel's matrix units, Sapphire Rapids and later) for ViTs at least `CPU_BF16_MIN_WIDTH` wide.
Measured on such a CPU (benchmarks/cpu_bf16.py, RESULTS.md): bf16 trains vit_micro_patch4_32 (192 wide)
1.3-1.4x faster and ViT-Ti/16 1.65-1.8x, MAE micro (192) as fast (0.97-1.02x), while the models 96 and 128 wide
run at 0.76-1.01x (the casts cost more than their small matmuls save). Other CPUs emulate bf16, slowly.
Autocast keeps the weights, the optimiser and the loss in fp32 either way.
"""

from __future__ import annotations

import torch

from ..config import Config, ConfigError
from ..models import model_entry
from .build import resolved_model_args

#: the narrowest ViT (embed_dim) that `auto` trains in bf16 on a CPU with AMX
CPU_BF16_MIN_WIDTH = 192


def device_type(choice: str) -> str:
    """'cuda' or 'cpu': the kind of device `runtime.device` (`auto`, `cpu` or `cuda`) trains on here."""
    return "cuda" if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()) else "cpu"


def model_width(cfg: Config) -> int | None:
    """The width (embed_dim) of the ViT `cfg` builds; None for a model that is not a ViT of ours."""
    return resolved_model_args(cfg)["embed_dim"] if model_entry(cfg.model.name).family.transformer else None


def native_bf16(device: torch.device) -> bool:
    """Whether `device` does bf16 matmuls in hardware: a CUDA device of compute capability 8.0 or later (Ampere
    on) or a ROCm device, or a CPU with AMX. Older GPUs (V100, T4) only emulate bf16, slowly."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    # torch has no public query for this; its own compiler asks the same one
    return device.type == "cpu" and torch.cpu._is_amx_tile_supported()


def autocast_dtype(precision: str, device: torch.device, width: int | None) -> torch.dtype | None:
    """The autocast dtype of a run (None: fp32) from `runtime.precision` ('auto', 'fp32' or 'bf16'), the
    device and the model's width (its embed_dim; None for a model that is not a ViT, such as a torchvision CNN)."""
    if precision == "fp32":
        return None
    native = native_bf16(device)
    if precision == "bf16":
        if not native:
            raise ConfigError(
                "runtime.precision",
                f"bf16 needs a GPU that does it in hardware (Ampere or later) or a CPU with AMX; this run is on "
                f"{device}, which would emulate it (slowly): use 'auto' or 'fp32'",
            )
        return torch.bfloat16
    wide = device.type == "cuda" or (width is not None and width >= CPU_BF16_MIN_WIDTH)
    return torch.bfloat16 if native and wide else None


def precision_name(dtype: torch.dtype | None) -> str:
    """'bf16' or 'fp32': what a run records and shows of its autocast dtype."""
    return "bf16" if dtype == torch.bfloat16 else "fp32"


def planned_precision(cfg: Config) -> str:
    """'bf16' or 'fp32': what a run of `cfg` would train in on this machine (what the model form shows)."""
    if cfg.runtime.precision != "auto":
        return cfg.runtime.precision
    device = torch.device(device_type(cfg.runtime.device))
    return precision_name(autocast_dtype("auto", device, model_width(cfg)))
