"""DeiT (Touvron et al., 2020): a distillation token beside the class token, and the distillation loss.

Plain DeiT models are `VisionTransformer`s (see `variants.py`). The distilled model adds `dist_token`
(position embedding N + 2) read by its own head `head_dist`: in training mode it returns
`(cls_logits, dist_logits)`, in eval mode their mean, as the paper does at inference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .vit import VisionTransformer

DISTILLATION_KINDS = ("none", "soft", "hard")


class DistilledVisionTransformer(VisionTransformer):
    """ViT with a distillation token and head; parameter names as timm's `VisionTransformerDistilled`."""

    family = "deit"

    def __init__(self, *args, **kwargs):
        if kwargs.get("global_pool", "token") != "token" or not kwargs.get("class_token", True):
            raise ValueError("a distilled ViT reads its class and distillation tokens: it needs global_pool='token'")
        if kwargs.get("representation_size"):
            raise ValueError("a distilled ViT has no pre-logits layer (representation_size)")
        if kwargs.get("pos_embed", "learned") == "learned_2d":
            raise ValueError("a distilled ViT needs a position embedding with prefix slots, not 'learned_2d'")
        kwargs["num_extra_tokens"] = kwargs.get("num_extra_tokens", 0) + 1
        super().__init__(*args, **kwargs)
        self.dist_token = nn.Parameter(torch.zeros(1, 1, self.embed_dim))
        nn.init.trunc_normal_(self.dist_token, std=0.02)
        self.head_dist = self._new_head(self.num_classes)

    def _new_head(self, num_classes: int) -> nn.Module:
        if num_classes <= 0:
            return nn.Identity()
        head = nn.Linear(self.embed_dim, num_classes)
        nn.init.trunc_normal_(head.weight, std=0.02)
        nn.init.zeros_(head.bias)
        return head

    def prefix_tokens(self, batch: int) -> list[torch.Tensor]:
        return super().prefix_tokens(batch) + [self.dist_token.expand(batch, -1, -1)]

    def reset_classifier(self, num_classes: int) -> None:
        super().reset_classifier(num_classes)
        self.head_dist = self._new_head(num_classes)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False):
        x_cls, x_dist = self.head_drop(x[:, 0]), self.head_drop(x[:, 1])
        if pre_logits:
            return (x_cls + x_dist) / 2
        logits, logits_dist = self.head(x_cls), self.head_dist(x_dist)
        if self.training:
            return logits, logits_dist
        return (logits + logits_dist) / 2


class DistillationLoss(nn.Module):
    """DeiT's loss: (1 - alpha) * base(cls_logits, y) + alpha * distill(dist_logits, teacher(x)).

    `kind='soft'`: KL(student/tau || teacher/tau) * tau^2, summed and divided by the logits' numel as in
    the DeiT code; `'hard'`: cross-entropy against the teacher's argmax; `'none'`: the base loss alone
    (the teacher is not run). `outputs` is a distilled model's `(cls_logits, dist_logits)`, or the plain
    logits of a model with one head, which then takes both terms (DeiT Table 3's "usual distillation").
    The teacher is kept in eval mode and never receives gradients.
    """

    def __init__(
        self,
        base_criterion: nn.Module,
        teacher: nn.Module | None,
        kind: str = "hard",
        alpha: float = 0.5,
        tau: float = 1.0,
    ):
        super().__init__()
        if kind not in DISTILLATION_KINDS:
            raise ValueError(f"distillation kind must be one of {DISTILLATION_KINDS}, got {kind!r}")
        if kind != "none" and teacher is None:
            raise ValueError(f"{kind!r} distillation needs a teacher model")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        if tau <= 0:
            raise ValueError(f"tau must be positive, got {tau}")
        self.base_criterion = base_criterion
        self.teacher = teacher.eval().requires_grad_(False) if teacher is not None else None
        self.kind, self.alpha, self.tau = kind, alpha, tau

    def train(self, mode: bool = True):
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    def forward(self, inputs: torch.Tensor, outputs, labels: torch.Tensor) -> torch.Tensor:
        outputs, outputs_kd = outputs if isinstance(outputs, (tuple, list)) else (outputs, outputs)
        base_loss = self.base_criterion(outputs, labels)
        if self.kind == "none":
            return base_loss
        with torch.no_grad():
            teacher_logits = self.teacher(inputs)
        if self.kind == "soft":
            t = self.tau
            distill = (
                F.kl_div(
                    F.log_softmax(outputs_kd / t, dim=1),
                    F.log_softmax(teacher_logits / t, dim=1),
                    reduction="sum",
                    log_target=True,
                )
                * (t * t)
                / outputs_kd.numel()
            )
        else:
            distill = F.cross_entropy(outputs_kd, teacher_logits.argmax(dim=1))
        return base_loss * (1 - self.alpha) + distill * self.alpha
