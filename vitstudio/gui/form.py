"""Widgets bound to dotted config fields: the one place where a form meets the core `Config`.

Every edit goes through `Config.from_dict`, so values are coerced and rejected exactly as in a
TOML file or a CLI override, and after every edit `config.check` lists what is wrong; the form
marks the widgets of failing fields and panels show the messages next to them.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QCheckBox, QComboBox, QLineEdit, QWidget

from ..config import Config, ConfigError, check

#: style sheet for a window holding bound widgets: fields that fail validation turn red. Spin boxes are left out:
#: a style sheet that touches their frame drops their arrows; they turn red through their palette instead.
INVALID_STYLE = (
    'QLineEdit[invalid="true"], QComboBox[invalid="true"] { border: 1px solid #c62828; background: #fdecea; }'
)
INVALID_BASE = QColor("#f8c9c4")


def read_widget(w: QWidget):
    """The config value a widget holds (None for an empty line or a spin box at its special value)."""
    if isinstance(w, QComboBox):
        return w.currentData()
    if isinstance(w, QCheckBox):
        return w.isChecked()
    if isinstance(w, QLineEdit):
        return w.text().strip() or None
    if isinstance(w, QAbstractSpinBox):
        return None if w.specialValueText() and w.value() == w.minimum() else w.value()
    raise TypeError(f"cannot read a {type(w).__name__}")


def write_widget(w: QWidget, value) -> None:
    if isinstance(w, QComboBox):
        i = w.findData(value)
        if i < 0:  # a value the list does not offer (e.g. from a file): show it rather than hide it
            w.addItem(str(value), value)
            i = w.count() - 1
        w.setCurrentIndex(i)
    elif isinstance(w, QCheckBox):
        w.setChecked(bool(value))
    elif isinstance(w, QLineEdit):
        if w.text().strip() != ("" if value is None else format_value(value)):
            w.setText("" if value is None else format_value(value))
    elif isinstance(w, QAbstractSpinBox):
        w.setValue(w.minimum() if value is None else value)
    else:
        raise TypeError(f"cannot write a {type(w).__name__}")


def _mark(w: QWidget, invalid: bool) -> None:
    """Set the widget's `invalid` property (styled by `INVALID_STYLE`); a spin box is coloured by its palette."""
    w.setProperty("invalid", invalid)
    w.style().unpolish(w)
    w.style().polish(w)
    if isinstance(w, QAbstractSpinBox):  # after polishing, which sets the palette the style sheet implies
        palette = QApplication.palette(w)
        if invalid:
            palette.setColor(QPalette.ColorRole.Base, INVALID_BASE)
        for part in (w, w.findChild(QLineEdit)):  # the box and the line edit inside it
            part.setPalette(palette)


def format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(format_value, value))
    return str(value)


def _changed_signal(w: QWidget):
    if isinstance(w, QComboBox):
        return w.currentIndexChanged
    if isinstance(w, QCheckBox):
        return w.toggled
    if isinstance(w, QLineEdit):
        return w.textEdited
    return w.valueChanged


class ConfigForm(QObject):
    """One `Config` being edited by many widgets, with its current problems.

    `bind(key, widget)` ties a widget to a field (`read`/`write` replace the defaults for fields a
    widget shows differently); `update({key: value})` changes fields from code; `changed` fires
    after every change, valid or not.
    """

    changed = Signal()

    def __init__(self, config: Config, parent=None):
        super().__init__(parent)
        self.config = config
        self.errors: list[ConfigError] = []
        self._bindings: dict[str, list[tuple[QWidget, Callable, Callable]]] = {}
        self._rejected: dict[str, ConfigError] = {}  # widget input the config could not take
        self._check()

    # -- binding ------------------------------------------------------------------------------

    def bind(self, key: str, widget: QWidget, read: Callable | None = None, write: Callable | None = None) -> QWidget:
        read, write = read or read_widget, write or write_widget
        self._bindings.setdefault(key, []).append((widget, read, write))
        self._show(key)
        _changed_signal(widget).connect(lambda *_: self._edited(key, widget, read))
        return widget

    def widgets(self, key: str) -> list[QWidget]:
        return [w for w, _, _ in self._bindings.get(key, [])]

    @property
    def keys(self) -> list[str]:
        return list(self._bindings)

    # -- values -------------------------------------------------------------------------------

    def value(self, key: str):
        section, name = key.split(".")
        return getattr(getattr(self.config, section), name)

    def update(self, values: dict) -> None:
        """Set several fields at once (dotted keys); the widgets follow."""
        nested: dict[str, dict] = {}
        for key, value in values.items():
            section, name = key.split(".")
            nested.setdefault(section, {})[name] = value
            self._rejected.pop(key, None)
        self.config = Config.from_dict(nested, base=self.config)
        for key in self._bindings:  # all: a widget may show a value derived from another field
            self._show(key)
        self._check()

    def load(self, config: Config) -> None:
        """Replace the whole config (a preset, a run's config)."""
        self.config = config
        self._rejected.clear()
        for key in self._bindings:
            self._show(key)
        self._check()

    @property
    def valid(self) -> bool:
        return not self.errors

    def errors_for(self, keys) -> list[ConfigError]:
        keys = set(keys)
        return [e for e in self.errors if e.field in keys]

    # -- internals ----------------------------------------------------------------------------

    def _edited(self, key: str, source: QWidget, read: Callable) -> None:
        try:
            self.config = Config.from_dict({key.split(".")[0]: {key.split(".")[1]: read(source)}}, base=self.config)
            self._rejected.pop(key, None)
        except ConfigError as e:
            self._rejected[key] = e
        self._show(key, skip=source)
        self._check()

    def _show(self, key: str, skip: QWidget | None = None) -> None:
        """Put the field's value into its widgets (not the one being typed in)."""
        value = self.value(key)
        for w, _, write in self._bindings.get(key, []):
            if w is not skip:
                blocked = w.blockSignals(True)
                write(w, value)
                w.blockSignals(blocked)

    def _check(self) -> None:
        self.errors = list(self._rejected.values()) + [e for e in check(self.config) if e.field not in self._rejected]
        bad = {e.field for e in self.errors}
        for key, bindings in self._bindings.items():
            for w, _, _ in bindings:
                if w.property("invalid") != (key in bad):
                    _mark(w, key in bad)
        self.changed.emit()
