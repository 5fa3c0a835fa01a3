"""The Model panel: choose and shape a model; its size, cost and structure update as you type.

The form edits `config.model` (a registered name plus overrides) and `data.img_size`. Family,
variant and backbone pick the registered model closest to the choice and override the rest, so
every combination the core accepts can be built.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from ...choices import GLOBAL_POOLS, POS_EMBED_KINDS
from ...models import FAMILIES, list_models, model_args, model_entry
from ...models.stats import model_stats
from ...models.variants import SIZES
from ...train.build import model_label, resolved_model_args
from ...train.hardware import planned_precision
from ..architecture import ArchitectureView, Shape
from ..form import write_widget
from .common import ProblemsLabel, combo, dspin, form_column, spin

SIZE_LABELS = {
    "nano": "nano",
    "micro": "micro",
    "tiny": "Ti (tiny)",
    "small": "S (small)",
    "base": "B (base)",
    "large": "L (large)",
    "huge": "H (huge)",
}
CUSTOM = "custom"
SHAPE_KEYS = ("embed_dim", "depth", "num_heads", "mlp_ratio")
POOL_LABELS = {"token": "class token", "avg": "average of patch tokens"}
_VIT_DEFAULTS = model_entry("vit_base_patch16_224").args()  # what a ViT argument is when a model does not say
FAMILY_NOTES = {
    "vit": "ViT (Dosovitskiy et al., 2020): the image is cut into patches, each linearly embedded; a class token "
    "and position embeddings are added and a plain Transformer encoder reads the sequence.",
    "hybrid": "Hybrid ViT (the ViT paper, Table 6): a ResNet's feature map replaces the raw patches, so each token "
    "already sees a neighbourhood; hybrids lead at small compute budgets.",
    "deit": "DeiT (Touvron et al., 2020): a data-efficient recipe; the distilled models add a distillation token "
    "that learns from a teacher's predictions through its own head.",
    "mae": "MAE (He et al., 2021): 75% of the patches are hidden, the encoder sees only the rest and a light "
    "decoder reconstructs the missing pixels; pretraining for a later fine-tune.",
    "mpp": "Masked patch prediction (the ViT paper's self-supervision): half of the patch embeddings are corrupted "
    "and the model predicts each one's mean colour.",
}


# -- the registry seen as families, sizes and backbones -------------------------------------------


def family_of(name: str) -> str:
    return model_entry(name).family.name


def size_of(args: dict) -> str:
    """The named size whose width, depth and heads these are (MLP ratio 4), else 'custom'."""
    if args.get("mlp_ratio", 4.0) != 4.0:
        return CUSTOM
    for size, dims in SIZES.items():
        if all(args.get(k) == v for k, v in dims.items()):
            return size
    return CUSTOM


def backbone_of(args: dict) -> str:
    """A readable name for a hybrid's CNN ('' for a plain ViT)."""
    if "backbone" in args and args["backbone"] != "resnetv2":
        return f"torchvision {args['backbone']}"
    if "layers" not in args:
        return ""
    layers = tuple(args["layers"])
    named = {(): "ResNetV2 stem only", (2, 2, 2, 2): "ResNetV2 R26", (3, 4, 9): "ResNetV2 R50"}
    n, blocks = len(layers), sum(layers)
    return named.get(
        layers, f"ResNetV2, {n} stage{'s' * (n > 1)} ({'+'.join(map(str, layers))} block{'s' * (blocks > 1)})"
    )


def pick_model(family: str, size: str, backbone: str | None, patch: int | None, img: int) -> str:
    """The registered name that best matches: same family and backbone first, then size, patch, image."""
    names = [n for n in list_models() if family_of(n) == family]
    if family == "hybrid" and backbone:
        names = [n for n in names if backbone_of(model_args(n)) == backbone] or names

    def score(name):
        a = model_args(name)
        return (size_of(a) == size, a.get("patch_size") == patch, a.get("img_size") == img, -len(name))

    return max(names, key=score)


# -- the panel ----------------------------------------------------------------------------------


class ModelPanel(QWidget):
    def __init__(self, form, parent=None):
        super().__init__(parent)
        self.form = form
        self.num_classes: int | None = None  # from the data panel, once it knows the dataset

        self.family = combo({f.name: f.label for f in FAMILIES.values() if list_models(family=f.name)})
        self.variant = combo({**{s: SIZE_LABELS.get(s, s) for s in SIZES}, CUSTOM: "custom"})
        self.backbone = QComboBox()
        self.backbone.addItem("none (patches of the image)", "")
        for name in list_models():
            label = backbone_of(model_args(name))
            if label and self.backbone.findData(label) < 0:
                self.backbone.addItem(label, label)
        self.family.activated.connect(lambda: self._choose(keep_backbone=False))
        self.variant.activated.connect(lambda: self._choose())
        self.backbone.activated.connect(self._choose_backbone)

        self.model_widgets = {}  # model argument -> its widget (shown as the model's value when unset)

        def bind_model(key: str, widget):
            self.model_widgets[key] = widget
            return form.bind(f"model.{key}", widget, write=lambda w, v: self._show_effective(w, key, v))

        self.width_box = bind_model("embed_dim", spin(1, 8192))
        self.depth_box = bind_model("depth", spin(1, 256))
        self.heads_box = bind_model("num_heads", spin(1, 256))
        self.mlp_box = bind_model("mlp_ratio", dspin(0.25, 16, 0.25))
        self.patch_box = bind_model("patch_size", spin(1, 512))
        self.patch_label = QLabel("Patch size")
        self.img_box = form.bind("data.img_size", spin(1, 4096))
        self.pos_box = bind_model("pos_embed", combo({k: k.replace("_", " ") for k in POS_EMBED_KINDS}))
        self.pool_box = bind_model("global_pool", combo({k: POOL_LABELS[k] for k in GLOBAL_POOLS}))
        self.cls_box = bind_model("class_token", QCheckBox("prepend a class token"))
        self.drop_path_box = bind_model("drop_path_rate", dspin(0, 0.95, 0.05))
        self.drop_box = bind_model("drop_rate", dspin(0, 0.95, 0.05))
        for box in (self.pos_box, self.pool_box):
            box.setPlaceholderText("set by the model")
        for box in (self.patch_box, self.img_box):  # a new patch or image size may match another registered model
            box.valueChanged.connect(lambda *_: self._choose())
        self.name_label = QLabel(wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        self.name_label.setStyleSheet("color: #555;")
        self.problems = ProblemsLabel()

        box = QGroupBox("Model")
        rows = QFormLayout(box)
        rows.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        for label, widget in [
            ("Family", self.family),
            ("Variant", self.variant),
            ("Hybrid backbone", self.backbone),
            ("Width", self.width_box),
            ("Depth (blocks)", self.depth_box),
            ("Heads", self.heads_box),
            ("MLP ratio", self.mlp_box),
            (self.patch_label, self.patch_box),
            ("Image size", self.img_box),
            ("Position embedding", self.pos_box),
            ("Pooling", self.pool_box),
            ("", self.cls_box),
            ("Drop path", self.drop_path_box),
            ("Dropout", self.drop_box),
        ]:
            rows.addRow(label, widget)
        rows.addRow(self.name_label)
        left_box = form_column(box, self.problems)

        self.figures = {}
        figures_box = QGroupBox("Derived figures")
        grid = QGridLayout(figures_box)
        for i, (key, title) in enumerate(
            [
                ("params", "Parameters"),
                ("gmacs", "GMACs per image"),
                ("seq_len", "Sequence length"),
                ("memory", "Training memory"),
            ]
        ):
            value, note = QLabel("—"), QLabel(wordWrap=True)
            value.setStyleSheet("font-size: 18pt; font-weight: 600; color: #1a237e;")
            note.setStyleSheet("color: #666;")
            grid.addWidget(QLabel(title), 0, i)
            grid.addWidget(value, 1, i)
            grid.addWidget(note, 2, i)
            grid.setColumnStretch(i, 1)
            self.figures[key] = (value, note)
        self.drawing = ArchitectureView()
        self.family_note = QLabel(wordWrap=True)
        self.family_note.setStyleSheet("color: #444;")
        drawing_box = QGroupBox("Architecture")
        drawing_layout = QVBoxLayout(drawing_box)
        drawing_layout.addWidget(self.drawing)
        drawing_layout.addWidget(self.family_note)
        right = QVBoxLayout()
        right.addWidget(figures_box)
        right.addWidget(drawing_box)
        right.addStretch(1)

        layout = QHBoxLayout(self)
        layout.addWidget(left_box)
        layout.addLayout(right, 1)
        form.changed.connect(self._refresh)
        self._refresh()

    # -- form logic ---------------------------------------------------------------------------

    def shape(self) -> dict:
        """The model's arguments as it will be built: registered defaults, overrides, the data's image size."""
        try:
            return resolved_model_args(self.form.config, self.num_classes)
        except KeyError:
            return {}

    def _show_effective(self, widget, key: str, value) -> None:
        """Show an unset (None) model field as the value the model will use; blank if the model fixes it."""
        if value is None:
            value = self.shape().get(key, _VIT_DEFAULTS.get(key))
        try:
            fixed = key not in model_entry(self.form.value("model.name")).accepts
        except KeyError:
            fixed = False
        if fixed and isinstance(widget, QComboBox):
            widget.setCurrentIndex(-1)
        else:
            write_widget(widget, value)
        widget.setEnabled(not fixed)

    def _choose(self, keep_backbone: bool = True) -> None:
        """Family, variant or backbone chosen: move to the closest registered model, override the rest.

        Overrides the new model cannot take (MAE fixes its position embedding, for one) are dropped.
        """
        family, size = self.family.currentData(), self.variant.currentData()
        current = self.shape()
        patch = current.get("patch_size")
        backbone = self.backbone.currentData() if keep_backbone else None
        name = pick_model(family, size, backbone, patch, self.form.value("data.img_size"))
        args, takes = model_args(name), model_entry(name).accepts
        values = {"model.name": name}
        if size != CUSTOM:
            dims = {**SIZES[size], "mlp_ratio": 4.0}
        else:  # keep the shape the form shows
            dims = {k: current.get(k, _VIT_DEFAULTS[k]) for k in SHAPE_KEYS}
        for k in SHAPE_KEYS:
            values[f"model.{k}"] = None if args.get(k, _VIT_DEFAULTS[k]) == dims[k] else dims[k]
        same_family = family_of(self.form.value("model.name")) == family
        values["model.patch_size"] = patch if same_family and args.get("patch_size") != patch else None
        for k in self.form.config.model.overrides():
            if k not in takes:
                values[f"model.{k}"] = None
        objectives = FAMILIES[family].objectives
        if self.form.value("objective.name") not in objectives:
            values["objective.name"] = objectives[0]
        self.form.update(values)

    def _choose_backbone(self) -> None:
        """A CNN backbone makes the model a hybrid; none makes it a plain ViT."""
        family = "hybrid" if self.backbone.currentData() else "vit"
        self.family.setCurrentIndex(self.family.findData(family))
        self._choose(keep_backbone=family == "hybrid")

    def set_num_classes(self, n: int) -> None:
        self.num_classes = n
        self._refresh()

    # -- display ------------------------------------------------------------------------------

    def _refresh(self) -> None:
        cfg, shape = self.form.config, self.shape()
        errors = self.form.errors_for(self._model_keys())
        self.problems.show_errors(errors)
        if not shape:
            self._show_figures(None)
            return
        family = family_of(cfg.model.name)
        for box, value in ((self.family, family), (self.variant, size_of(shape)), (self.backbone, backbone_of(shape))):
            box.blockSignals(True)
            box.setCurrentIndex(max(box.findData(value), 0))
            box.blockSignals(False)
        self.name_label.setText(_describe(cfg))
        self.family_note.setText(FAMILY_NOTES.get(family, ""))
        hybrid = family == "hybrid"
        self.patch_label.setText("Patch (CNN map)" if hybrid else "Patch size")
        self.patch_box.setToolTip(
            "patch size on the CNN's feature map, in feature-map cells (1: each cell is a token)"
            if hybrid
            else "patch size in pixels"
        )
        try:
            stats = None if errors else model_stats(cfg.model.name, mask_ratio=cfg.objective.mask_ratio, **shape)
        except (TypeError, ValueError, ZeroDivisionError):  # a combination only building the model would reject
            stats = None
        self._show_figures(stats and (stats, _drawing(cfg, shape, stats)))

    def _model_keys(self) -> list[str]:
        """Fields this panel answers for ('model' is a build error of the whole model)."""
        return ["model", "model.name", *(k for k in self.form.keys if k.startswith("model.")), "data.img_size"]

    def _show_figures(self, result) -> None:
        values = {k: v for k, (v, _) in self.figures.items()}
        notes = {k: n for k, (_, n) in self.figures.items()}
        if result is None:
            for label in (*values.values(), *notes.values()):
                label.setText("—" if label in values.values() else "")
            self.drawing.set_shape(None)
            return
        stats, drawing = result
        cfg = self.form.config
        values["params"].setText(_si(stats.params))
        notes["params"].setText(f"{stats.params:,}")
        values["gmacs"].setText(f"{stats.gmacs:.3g}")
        notes["gmacs"].setText(f"{2 * stats.gmacs:.3g} GFLOPs forward")
        values["seq_len"].setText(str(stats.seq_len))
        prefix = " + ".join(drawing.prefix)
        visible = stats.seq_len - len(drawing.prefix)
        patches = f"{visible} of {stats.patches} patches" if visible != stats.patches else f"{stats.patches} patches"
        notes["seq_len"].setText(f"{patches} + {prefix} token" if prefix else patches)
        precision, batch = planned_precision(cfg), cfg.optim.batch_size
        values["memory"].setText(_bytes(stats.train_memory(batch, 2 if precision == "bf16" else 4)))
        notes["memory"].setText(f"batch {batch}, {precision} activations, AdamW")
        self.drawing.set_shape(drawing)


def _drawing(cfg, shape: dict, stats) -> Shape:
    family = family_of(cfg.model.name)
    prefix = ("cls",) * int(shape.get("class_token", True))
    prefix += ("dist",) * (family == "deit")
    side = round(stats.patches**0.5)
    dim = shape.get("embed_dim", 768)
    pool = "class token" if shape.get("global_pool", "token") == "token" else "average"
    head = {
        "mae": "decoder → pixels of the hidden patches",
        "mpp": "Linear → mean colour of each corrupted patch",
    }.get(family, f"{pool} → Linear → {shape.get('num_classes', '?')} classes")
    return Shape(
        img_size=shape["img_size"],
        patch_size=shape.get("patch_size", 16),
        grid=(side, side),
        prefix=prefix,
        visible=stats.seq_len - len(prefix),
        embed_dim=dim,
        depth=shape.get("depth", 12),
        num_heads=shape.get("num_heads", 12),
        mlp_hidden=int(dim * shape.get("mlp_ratio", 4.0)),
        stem=backbone_of(shape),
        head=head,
    )


def _describe(cfg) -> str:
    """The model's own name, and the registered model it starts from when its architecture differs."""
    label, name = model_label(cfg), cfg.model.name
    if label == name:
        return f"model <b>{name}</b>"
    overrides = ", ".join(f"{k}={v}" for k, v in cfg.model.overrides().items())
    return f"model <b>{label}</b>: {name}" + (f" with {overrides}" if overrides else f" at {cfg.data.img_size} px")


def _si(n: float) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return str(int(n))


def _bytes(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"
