"""The values a few string settings take, shared by the config schema, the models and the data pipeline.

A leaf module (no imports), so the config schema reads them without loading torch.
"""

#: position embeddings a ViT can have (the ViT paper's appendix D.4 ablation, plus MAE's fixed sin-cos).
POS_EMBED_KINDS = ("learned", "learned_2d", "sincos_2d", "none")
#: what a ViT's head reads: the class token, or the average of the patch tokens.
GLOBAL_POOLS = ("token", "avg")
#: per-image augmentation recipes (see `vitstudio.data.transforms`).
AUGMENTS = ("none", "standard", "deit")
