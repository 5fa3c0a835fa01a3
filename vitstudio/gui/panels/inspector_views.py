"""The inspector's views of one model: every analysis of the image as a figure, kept up to date off the UI thread.

`ModelViews` holds a model source, its inspection of the image, a tab per view and the requests that
refresh them; a panel (`InspectorPanel`, `SideBySidePanel`) feeds it the image and the view settings
(plain dicts from `InspectorControls`). Its `chooser` (`ModelChooser`: the model's name and a menu of
where to take a model from) is placed by the panel. Several `ModelViews` may share one
`LatestRequestRunner`: each uses its own slots, so the latest request wins per model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...analysis import figures, render
from ...analysis.image import fit_image, normalize
from ...analysis.inspection import Inspection
from ...analysis.mae import mae_reconstruction
from ...analysis.report import attention_distance, inspect_image
from ...analysis.sources import (
    ModelSource,
    example_images,
    from_name,
    from_pretrained,
    from_run,
    from_weights,
    records_architecture,
)
from ...models import family_of, list_models
from ...models.weights import check_weights_file
from ...train.runs import Run, runs_root
from ..worker import LatestRequestRunner
from .common import to_qimage, weights_filter
from .pretrained import PretrainedDialog

# -- figures computed on the worker ------------------------------------------------------------


@dataclass
class _Static:
    """Figures that change only with the image or the model."""

    inspection: Inspection
    patches: np.ndarray
    sequence: np.ndarray
    position: np.ndarray | None
    filters: np.ndarray
    predictions: np.ndarray | None


def _static_figures(source: ModelSource, image: np.ndarray) -> _Static:
    insp = inspect_image(source.model, image, source.mean, source.std, source.class_names, source.crop_pct)
    px = insp.geometry.patch_px
    return _Static(
        inspection=insp,
        patches=figures.patches_figure(insp.image, px),
        sequence=figures.sequence_figure(insp.image, px, insp.geometry.num_prefix_tokens),
        position=None if insp.similarity is None else figures.position_figure(insp.similarity),
        filters=figures.filters_figure(insp.filters),
        predictions=None if insp.predictions is None else figures.predictions_figure(insp.predictions),
    )


def _mae_figure(source: ModelSource, image: np.ndarray, mask_ratio: float, seed: int) -> np.ndarray:
    model = source.model
    x = normalize(fit_image(image, tuple(model.patch_embed.img_size), source.crop_pct), source.mean, source.std)
    x = x.to(next(model.parameters()).device)
    return figures.mae_figure(mae_reconstruction(model, x, mask_ratio, seed, source.mean, source.std))


def attention_view(insp: Inspection, options: dict) -> tuple[np.ndarray, str]:
    """The attention figure for `options` (`InspectorControls.attention_options()`) and a note.

    Settings made for another model may ask for a layer, head or query token this model lacks: it then
    shows its last one, and the note says so."""
    layers, heads = insp.attention.shape[:2]
    tokens = insp.geometry.num_prefix_tokens
    options, notes = dict(options), []
    if not options["rollout"]:
        if options["layer"] >= layers:
            notes.append(f"this model has {layers} layers: showing layer {layers}, not {options['layer'] + 1}")
            options["layer"] = layers - 1
        if not options["all_heads"] and options["head"] >= heads:
            notes.append(f"this model has {heads} heads: showing head {heads}, not {options['head'] + 1}")
            options["head"] = heads - 1
    token = options["token"]
    if isinstance(token, int) and token >= tokens:
        readout = insp.geometry.readout_token
        notes.append(f"this model has no {figures.token_name(token)}: showing the {figures.token_name(readout)}")
        options["token"] = readout
    return figures.attention_figure(insp, **options), "; ".join(notes)


def _distance_over_examples(source: ModelSource) -> tuple[np.ndarray, str]:
    images, over = example_images(source)
    return attention_distance(source.model, images, source.mean, source.std), over


#: what each worker task does, for messages.
TASKS = {
    "source": "loading the model",
    "inspect": "the inspection",
    "attention": "the attention view",
    "mae": "the MAE reconstruction",
    "distance": "the attention distance over many images",
}

# -- views ---------------------------------------------------------------------------------------


def _frame(view: QWidget, body: QWidget, export: Callable[[], None], *tools: QWidget) -> tuple[QLabel, QPushButton]:
    """Lay out a view: `body` above a bar of `tools`, a note line and an 'Export PNG…' button calling `export`
    (enabled once there is a figure). Returns the note and the button."""
    note = QLabel()
    note.setWordWrap(True)
    button = QPushButton("Export PNG…")
    button.setEnabled(False)
    button.clicked.connect(export)
    bar = QHBoxLayout()
    for tool in tools:
        bar.addWidget(tool)
    bar.addWidget(note, 1)
    bar.addWidget(button)
    layout = QVBoxLayout(view)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(body, 1)
    layout.addLayout(bar)
    return note, button


class FigureView(QWidget):
    """A rendered figure ((H, W, 3) uint8) fitted to the view, a note line and PNG export (of every pixel).

    A figure larger than the view, or up to half its size, is scaled smoothly to fit it; a smaller one is enlarged
    by the largest whole factor that fits, pixels kept sharp. `tools` go in the bar under it."""

    def __init__(self, export: Callable[[], None], parent: QWidget | None = None, tools: tuple = ()):
        super().__init__(parent)
        self.figure: np.ndarray | None = None
        self._pixmap: QPixmap | None = None
        self.label = QLabel()
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.label)
        self.scroll.setStyleSheet("background: white;")
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.viewport().installEventFilter(self)
        self.note, self.export_button = _frame(self, self.scroll, export, *tools)

    def show_figure(self, figure: np.ndarray | None, note: str = "") -> None:
        self.figure = figure
        self.note.setText(note)
        self.export_button.setEnabled(figure is not None)
        self._pixmap = None if figure is None else QPixmap.fromImage(to_qimage(figure))
        self._place()

    def _place(self) -> None:
        if self._pixmap is None:
            self.label.clear()
            return
        pixmap, room = self._pixmap, self.scroll.viewport().size()
        factor = min(room.width() / pixmap.width(), room.height() / pixmap.height())
        if factor >= 2:
            pixmap = pixmap.scaled(pixmap.size() * int(factor), mode=Qt.TransformationMode.FastTransformation)
        elif factor < 1 or factor > 1.2:
            pixmap = pixmap.scaled(room, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        self.label.setPixmap(pixmap)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._place()
        return False


class DistanceView(FigureView):
    """Mean attention distance (layer against distance, one point per head): the figure `vitstudio inspect` and
    the export write, over the inspected image or over many images (`over_box`; `overChanged` asks the panel for
    the other)."""

    overChanged = Signal()

    def __init__(self, export: Callable[[], None], parent: QWidget | None = None):
        over_box = QComboBox()
        over_box.addItem("over this image", False)
        over_box.addItem("over many images (as the paper)", True)
        over_box.setToolTip("many images: validation images of a run's dataset, else the bundled samples")
        super().__init__(export, parent=parent, tools=(over_box,))
        self.over_box = over_box
        self.over_box.currentIndexChanged.connect(self.overChanged)
        self.distance: np.ndarray | None = None

    @property
    def over_many(self) -> bool:
        return bool(self.over_box.currentData())

    def show_distance(self, distance: np.ndarray | None, over: str = "the inspected image") -> None:
        self.distance = distance
        if distance is None:
            self.show_figure(None)
        else:
            self.show_figure(figures.distance_figure(distance, over), f"averaged over {over}")


# -- choosing the model --------------------------------------------------------------------------


class ModelChooser(QGroupBox):
    """The model box: the model's name and a menu of where to take a model from.

    Each menu entry has a `choose` function (see `add_source`); picking the entry emits `chosen(choose)`.
    """

    chosen = Signal(object)

    def __init__(self, title: str = "Model", parent: QWidget | None = None):
        super().__init__(title, parent)
        self.label = QLabel("no model")
        self.label.setWordWrap(True)
        self.button = QToolButton()
        self.button.setText("Choose model…")
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self.button)
        self.button.setMenu(self.menu)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.button)
        self.add_source("Named model (random weights)…", self._ask_model_name)
        self.add_source("Pretrained…", self._ask_pretrained)
        self.add_source("Weights file…", self._ask_weights)
        self.add_source("Training run…", self._ask_run)

    def add_source(self, label: str, choose: Callable[[], ModelSource | Callable[[], ModelSource] | None]) -> None:
        """Add a menu entry. `choose` runs on the UI thread (it may ask with dialogs) and returns a
        `ModelSource`, or a function that loads one (run on the worker thread), or None when cancelled."""
        self.menu.addAction(label, partial(self.chosen.emit, choose))

    def _choose_model_name(self, prompt: str) -> str | None:
        name, ok = QInputDialog.getItem(self, "Named model", prompt, list_models(), 0, False)
        return name if ok else None

    def _ask_model_name(self):
        name = self._choose_model_name("model (random weights):")
        return partial(from_name, name) if name else None

    def _ask_pretrained(self):
        """A pretrained tag, downloaded in the dialog (with progress and Cancel), then loaded from the cache."""
        dialog = PretrainedDialog(self)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.chosen is None:
            return None
        return partial(from_pretrained, dialog.chosen)

    def _ask_run(self):
        """A run folder, then which of its weights when it has more than one (final, best, last)."""
        folder = QFileDialog.getExistingDirectory(self, "Open a training run", str(runs_root()))
        if not folder:
            return None
        run = Run(folder)
        choices = {
            f"{label} ({path.name})": which
            for which, label, path in (
                ("final", "final weights", run.weights),
                ("best", "best checkpoint", run.best_checkpoint),
                ("last", "last checkpoint", run.last_checkpoint),
            )
            if path.exists()
        }
        which = "final"
        if len(choices) > 1:
            label, ok = QInputDialog.getItem(self, "Training run", f"weights of {run.id}:", list(choices), 0, False)
            if not ok:
                return None
            which = choices[label]
        return partial(from_run, folder, which)

    def _ask_weights(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open weights", "", weights_filter())
        if not path:
            return None
        check_weights_file(path)  # a clear message now, before asking which model to load it into
        if records_architecture(path):
            return partial(from_weights, path)
        name = self._choose_model_name(f"{Path(path).name} does not record its model; load it into:")
        return partial(from_weights, path, name) if name else None


# -- one model's views -----------------------------------------------------------------------------


class ModelViews(QWidget):
    """One model's views of the image: patches, sequence, attention, position, filters, distance, mae,
    predictions (tabs), refreshed on `runner` under slots named after `name` whenever the source, the
    image or the settings change. Figures fit their views; `compact` suits a narrow column: tab names are
    elided to fit."""

    viewUpdated = Signal(str)  # a view's figure changed (its name)
    statusChanged = Signal(str, bool)  # a message, whether it reports an error
    sourceChanged = Signal()  # a new model (the settings' ranges may change)

    def __init__(
        self, runner: LatestRequestRunner, name: str = "", compact: bool = False, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.runner, self.name, self.compact = runner, name, compact
        self.source: ModelSource | None = None
        self.image: np.ndarray | None = None
        self.image_label = ""
        self.static: _Static | None = None
        self._many: tuple[ModelSource, tuple[np.ndarray, str]] | None = None  # distance over many images, by source
        self.attention_options: dict = {}
        self.mae_options: dict = {}
        self.chooser = ModelChooser()
        self.chooser.chosen.connect(self._choose)
        runner.finished.connect(self._on_result)
        runner.failed.connect(self._on_failure)
        self._build_views()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)

    def _build_views(self) -> None:
        self.views: dict[str, FigureView | DistanceView] = {}
        self.tabs = QTabWidget()
        if self.compact:
            self.tabs.setUsesScrollButtons(False)
            self.tabs.setElideMode(Qt.TextElideMode.ElideRight)

        def view(name: str) -> FigureView:
            self.views[name] = FigureView(partial(self.export_view, name))
            return self.views[name]

        def tab(widget: QWidget, title: str, short: str | None = None) -> None:
            self.tabs.addTab(widget, short if self.compact and short else title)
            self.tabs.setTabToolTip(self.tabs.count() - 1, title)

        patches = QSplitter(Qt.Orientation.Vertical)
        patches.addWidget(view("patches"))
        patches.addWidget(view("sequence"))
        tab(patches, "Patches")
        tab(view("attention"), "Attention")
        tab(view("position"), "Position embedding", "Position")
        tab(view("filters"), "Filters")
        self.views["distance"] = DistanceView(partial(self.export_view, "distance"))
        self.views["distance"].overChanged.connect(self._request_distance)
        tab(self.views["distance"], "Attention distance", "Distance")
        tab(view("mae"), "MAE")
        tab(view("predictions"), "Predictions")

    # -- inputs ---------------------------------------------------------------------------------

    def set_source(self, source: ModelSource) -> None:
        self.source = source
        self.chooser.label.setText(source.label)
        self._request_inspection()
        self.sourceChanged.emit()

    def load(self, fn: Callable[[], ModelSource]) -> None:
        """Load a model on the worker thread (`fn` returns its `ModelSource`), then inspect it."""
        self._status("loading the model…")
        self.runner.submit(self._slot("source"), fn)

    def set_image(self, image: np.ndarray, label: str) -> None:
        self.image, self.image_label = image, label
        self._request_inspection()

    def set_attention(self, options: dict) -> None:
        """Settings of the attention view (`InspectorControls.attention_options()`)."""
        if options != self.attention_options:
            self.attention_options = options
            self._request_attention()

    def set_mae(self, options: dict) -> None:
        """Settings of the MAE reconstruction: `mask_ratio` and `seed`."""
        if options != self.mae_options:
            self.mae_options = options
            self._request_mae()

    # -- outputs --------------------------------------------------------------------------------

    def view_figure(self, name: str) -> np.ndarray | None:
        """The figure a view shows now, as an (H, W, 3) uint8 array."""
        return self.views[name].figure

    def view_note(self, name: str) -> str:
        view = self.views[name]
        return view.note.text() if isinstance(view, FigureView) else ""

    def export_view(self, name: str, path=None) -> Path | None:
        """Save a view's figure as PNG (asks for a file name when `path` is None)."""
        figure = self.view_figure(name)
        if figure is None:
            return None
        if path is None:
            stem = "_".join(s for s in (Path(self.image_label).stem or "figure", name, self.name) if s)
            path, _ = QFileDialog.getSaveFileName(self, f"Export the {name} view", f"{stem}.png", "PNG (*.png)")
            if not path:
                return None
        return render.save_png(figure, path)

    # -- requests -------------------------------------------------------------------------------

    def _slot(self, task: str) -> str:
        return f"{self.name}:{task}" if self.name else task

    def _task(self, slot: str) -> str | None:
        """The task of one of this model's slots, None for another's."""
        prefix = f"{self.name}:" if self.name else ""
        task = slot[len(prefix) :] if slot.startswith(prefix) else None
        return task if task in TASKS else None

    def _request_inspection(self) -> None:
        if self.source is None or self.image is None:
            return
        for task in ("attention", "mae", "distance"):
            self.runner.cancel(self._slot(task))
        self.static = None
        self._status(f"inspecting {self.image_label} with {self.source.label}…")
        self.runner.submit(self._slot("inspect"), partial(_static_figures, self.source, self.image))
        self._request_mae()

    def _request_attention(self) -> None:
        if self.static is not None and self.attention_options:
            self.runner.submit(
                self._slot("attention"), partial(attention_view, self.static.inspection, self.attention_options)
            )

    def _request_distance(self) -> None:
        """Show the distance over the inspected image, or ask the worker for it over many images."""
        view = self.views["distance"]
        if self.static is None:
            return
        if not view.over_many:
            self.runner.cancel(self._slot("distance"))
            view.show_distance(self.static.inspection.distance)
            self.viewUpdated.emit("distance")
        elif self._many is not None and self._many[0] is self.source:  # it does not depend on the image
            view.show_distance(*self._many[1])
            self.viewUpdated.emit("distance")
        else:
            self.runner.submit(self._slot("distance"), partial(_distance_over_examples, self.source))

    def _request_mae(self) -> None:
        if (
            self.source is None
            or self.image is None
            or not self.mae_options
            or not family_of(self.source.model).reconstructs
        ):
            return
        self.runner.submit(
            self._slot("mae"),
            partial(_mae_figure, self.source, self.image, self.mae_options["mask_ratio"], self.mae_options["seed"]),
        )

    def _choose(self, choose) -> None:
        try:
            choice = choose()
        except (ValueError, KeyError, OSError) as e:
            self._status(str(e), error=True)
            return
        if isinstance(choice, ModelSource):
            self.set_source(choice)
        elif choice is not None:
            self.load(choice)

    # -- results --------------------------------------------------------------------------------

    def _on_result(self, slot: str, result) -> None:
        task = self._task(slot)
        if task == "source":
            self.set_source(result)
        elif task == "inspect":
            self.static = result
            self._show_static(result)
            self._request_attention()
            self._status(f"{self.image_label} with {self.source.label}")
        elif task == "attention":
            self._show("attention", *result)
        elif task == "mae":
            self._show("mae", result)
        elif task == "distance":
            self._many = (self.source, result)
            self.views["distance"].show_distance(*result)
            self.viewUpdated.emit("distance")

    def _on_failure(self, slot: str, summary: str, _traceback: str) -> None:
        task = self._task(slot)
        if task is not None:
            self._status(f"{TASKS[task]} failed: {summary}", error=True)

    def _status(self, text: str, error: bool = False) -> None:
        self.statusChanged.emit(text, error)

    def _show(self, name: str, figure: np.ndarray | None, note: str = "") -> None:
        self.views[name].show_figure(figure, note)
        self.viewUpdated.emit(name)

    def _show_static(self, s: _Static) -> None:
        insp = s.inspection
        self._show(
            "patches",
            s.patches,
            f"{insp.geometry.grid[0]}x{insp.geometry.grid[1]} patches of "
            f"{insp.geometry.patch_px[0]}x{insp.geometry.patch_px[1]} pixels",
        )
        n = insp.geometry.num_prefix_tokens
        prefix = " and ".join(figures.TOKEN_NAMES[:n])
        self._show(
            "sequence",
            s.sequence,
            f"the patch tokens in order, numbered after the {prefix}"
            if n
            else "the patch tokens in order (no prefix tokens)",
        )
        self._show("position", s.position, insp.position_note)
        self._show("filters", s.filters, insp.filters.note)
        self._request_distance()
        self._show(
            "predictions",
            s.predictions,
            insp.domain_note if s.predictions is not None else "this model has no classifier (a pretraining model)",
        )
        if not family_of(self.source.model).reconstructs:
            self._show("mae", None, "not a masked autoencoder: choose an MAE model to see reconstructions")
