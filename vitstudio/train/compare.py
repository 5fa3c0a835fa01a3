"""Comparing runs, Qt-free: the runs table, smoothed curves on a chosen x axis, config differences, exports.

The GUI's runs panel and `vitstudio runs compare` both use these functions; runs are read through the
run store (`Run.summary()` for the table, `Run.metrics()` for curves, `resolved_config(run)` for the diff).
Plots are drawn by `vitstudio.charts` (`metric_chart`), for the command line and the GUI's export alike.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..charts import Chart, Series, category_color
from .build import resolved_model_args
from .checkpoint import atomic_write
from .runs import Curve, Run, RunError

X_AXES = {"step": "step", "epoch": "epoch", "seconds": "training time (s)", "images": "images seen"}
MISSING = object()  # a config field one run has and another has not
DEFAULT_SMOOTHING = 0.6
FEW_RUNS = 10  # up to this many runs: thick lines, the raw values faintly behind smoothed ones, a legend
MARKERS_UP_TO = 60  # curves with this few points (evaluations) get a marker per point
FAINT = 70 / 255  # opacity of the raw values behind a smoothed line


# -- curves -------------------------------------------------------------------------------------


def x_values(curve: Curve, axis: str, batch_size: int | None, world_size: int = 1) -> np.ndarray:
    """The x coordinates of `curve` on `axis` (see `X_AXES`). Images seen are steps times `batch_size` times
    `world_size`: under torchrun each process takes a batch per step (a run's summary has both); NaN for a
    damaged run whose batch size is unknown."""
    if axis == "step":
        return curve.step
    if axis == "epoch":
        return curve.epoch
    if axis == "seconds":
        return curve.seconds
    if axis == "images":
        if batch_size is None:
            return np.full(len(curve.step), np.nan)
        return curve.step * (batch_size * world_size)
    raise ValueError(f"x axis must be one of {', '.join(X_AXES)}, got {axis!r}")


def ema(values, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average debiased for its start.

    s_n = w s_{n-1} + (1 - w) y_n from s_{-1} = 0, divided by 1 - w^(n+1) so the first points are not
    pulled towards zero. `weight` 0 returns the values; non-finite values stay and are skipped by the average.
    """
    if not 0 <= weight < 1:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    y = np.asarray(values, dtype=np.float64)
    if weight < 1e-50 or y.size == 0:  # below 1e-50 the average is the values to the last bit
        return y.copy()
    finite = np.isfinite(y)
    every = bool(finite.all())
    v = y if every else y[finite]
    n = v.size
    # Vectorised in blocks: from a zero start, s_i = (1 - w) w^i cumsum_{j<=i}(w^-j y_j) for i = 1..block,
    # with the block short enough that w^-block stays below 1e50. Each block then adds the last value of
    # the one before, times w^i; what would come from two blocks back is below 1e-50 of it and cannot show.
    # The debiasing, 1 - w^i, is 1 past the first block for the same reason.
    log_w = math.log(weight)
    block = max(1, min(n, int(50 * math.log(10) / -log_w)))
    decay = np.exp(np.arange(1, block + 1) * log_w)  # w^i
    m = -(-n // block)
    s = np.zeros((m, block))
    s.reshape(-1)[:n] = v
    s /= decay
    np.cumsum(s, axis=1, out=s)
    s *= (1 - weight) * decay
    s[1:] += s[:-1, -1:] * decay
    smooth = s.reshape(-1)[:n]
    smooth[:block] /= 1 - decay
    if every:
        return smooth
    out = y.copy()
    out[finite] = smooth
    return out


def smoothed(curve: Curve, weight: float) -> bool:
    """Whether a plot smooths `curve`: training curves are, validation ones (a point per evaluation) are not."""
    return weight > 0 and curve.kind == "step"


def metric_series(
    runs: list[Run], metric: str, axis: str = "step", smoothing: float = 0.0
) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray | None]]:
    """(name, x, y, smoothed y or None) of each of `runs` that logged `metric`: what its plot shows."""
    out = []
    for run in runs:
        curve = run.metrics().curves.get(metric)
        if curve is None:
            continue
        s = run.summary()
        smooth = ema(curve.value, smoothing) if smoothed(curve, smoothing) else None
        out.append((s["name"], x_values(curve, axis, s["batch_size"], s["world_size"]), curve.value, smooth))
    return out


def metric_chart(
    series: list[tuple[str, np.ndarray, np.ndarray, np.ndarray | None]],
    metric: str,
    axis: str,
    log_y: bool = False,
    size: tuple[int, int] = (480, 800),
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
) -> Chart:
    """The plot of `metric_series`, styled as the compare view shows it: per run a line in its colour (smoothed
    values where there are some, the raw ones faintly behind for up to `FEW_RUNS` runs, a marker per point for
    short curves) and a legend of run names for up to `FEW_RUNS` runs. `xlim`/`ylim`: a range to show (on a log
    y axis, in log10), by default all of the data."""
    n, few = len(series), len(series) <= FEW_RUNS
    faint = [
        Series(x, y, category_color(i, n), width=1, alpha=FAINT)
        for i, (_, x, y, smooth) in enumerate(series)
        if few and smooth is not None
    ]
    lines = [
        Series(
            x,
            y if smooth is None else smooth,
            category_color(i, n),
            name if few else "",
            width=2 if few else 1,
            markers=smooth is None and len(x) <= MARKERS_UP_TO,
        )
        for i, (name, x, y, smooth) in enumerate(series)
    ]
    return Chart(tuple(faint + lines), X_AXES[axis], metric, title=metric, size=size, xlim=xlim, ylim=ylim, log_y=log_y)


class Smoother:
    """`ema` one value at a time, for curves that grow (the training tab's): the same debiased average."""

    def __init__(self, weight: float = DEFAULT_SMOOTHING):
        if not 0 <= weight < 1:
            raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
        self.weight, self._sum, self._norm = weight, 0.0, 0.0

    def add(self, value: float) -> float:
        """The smoothed value at `value`; a non-finite value is returned as it is and skipped by the average."""
        if not math.isfinite(value):
            return value
        self._sum = self.weight * self._sum + (1 - self.weight) * value
        self._norm = self.weight * self._norm + (1 - self.weight)
        return self._sum / self._norm


# -- the runs table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of the runs table: `value` (for sorting and CSV) and `text` (for display) of a run summary."""

    key: str
    title: str
    value: Callable[[dict], object]
    text: Callable[[dict], str] | None = None

    def format(self, summary: dict) -> str:
        if self.text is not None:
            return self.text(summary)
        value = self.value(summary)
        return "" if value is None else str(value)


def _eval(which: str, key: str) -> Callable[[dict], float | None]:
    return lambda s: (s.get(which) or {}).get(key)


def _fixed(value: Callable[[dict], float | None], digits: int) -> Callable[[dict], str]:
    return lambda s: "" if value(s) is None else f"{value(s):.{digits}f}"


def format_count(n: int | None) -> str:
    """12345678 -> '12.3M'."""
    if n is None:
        return ""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def format_duration(seconds: float | None) -> str:
    """75 -> '1m 15s', 7300 -> '2h 01m'."""
    if seconds is None:
        return ""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


COLUMNS = {
    c.key: c
    for c in (
        Column("name", "run", lambda s: s["name"]),
        Column("state", "status", lambda s: s["state"]),
        Column("objective", "objective", lambda s: s["objective"]),
        Column("model", "model", lambda s: s["model"]),
        Column("data", "dataset", lambda s: s["data"]),
        Column(
            "epoch",
            "epochs",
            lambda s: s["epoch"],
            lambda s: f"{s['epoch'] or 0:.2f} / {s['epochs']}" if s.get("epochs") else "",
        ),
        Column("best_top1", "best top-1 %", _eval("best", "top1"), _fixed(_eval("best", "top1"), 2)),
        Column("last_top1", "last top-1 %", _eval("last_eval", "top1"), _fixed(_eval("last_eval", "top1"), 2)),
        Column("best_val_loss", "best val loss", _eval("best", "val_loss"), _fixed(_eval("best", "val_loss"), 4)),
        Column(
            "last_val_loss", "last val loss", _eval("last_eval", "val_loss"), _fixed(_eval("last_eval", "val_loss"), 4)
        ),
        Column("params", "params", lambda s: s.get("params"), lambda s: format_count(s.get("params"))),
        Column("seconds", "time", lambda s: s.get("seconds"), lambda s: format_duration(s.get("seconds"))),
        Column(
            "images_per_sec",
            "images/s",
            lambda s: s.get("images_per_sec"),
            _fixed(lambda s: s.get("images_per_sec"), 0),
        ),
        Column(
            "created",
            "created",
            lambda s: s.get("created"),
            lambda s: time.strftime("%Y-%m-%d %H:%M", time.localtime(s["created"])) if s.get("created") else "",
        ),
        Column("tags", "tags", lambda s: ", ".join(s.get("tags") or [])),
        Column("note", "note", lambda s: s.get("note") or ""),
        Column("id", "folder", lambda s: s["id"]),
    )
}
TABLE_COLUMNS = (
    "name",
    "state",
    "objective",
    "model",
    "data",
    "epoch",
    "best_top1",
    "last_top1",
    "best_val_loss",
    "last_val_loss",
    "params",
    "seconds",
    "images_per_sec",
    "created",
    "tags",
)
SUMMARY_COLUMNS = (
    "name",
    "state",
    "model",
    "objective",
    "epoch",
    "best_top1",
    "last_top1",
    "best_val_loss",
    "last_val_loss",
    "params",
    "seconds",
    "images_per_sec",
)


def table(summaries: list[dict], columns=TABLE_COLUMNS, text: bool = True) -> tuple[list[str], list[list]]:
    """Header and rows of the runs table: display text, or with `text=False` raw values (None for blanks)."""
    cols = [COLUMNS[k] for k in columns]
    rows = [[c.format(s) if text else c.value(s) for c in cols] for s in summaries]
    return [c.title for c in cols], rows


# -- config differences ---------------------------------------------------------------------------


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested dicts as one dict of dotted keys: {'optim': {'lr': 1e-3}} -> {'optim.lr': 1e-3}."""
    flat = {}
    for key, value in d.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def resolved_config(run: Run) -> dict:
    """The run's config as it ran: the model section holds every argument the model was built with (what the
    trainer recorded; for a run from before that, resolved through the model catalogue) rather than the sparse
    overrides, and the runtime's device and precision are what it trained on and in. A damaged run's is empty:
    the runs table names its faulty file."""
    try:
        cfg, status = run.config(), run.status()
    except RunError:
        return {}
    resolved = cfg.to_dict()
    args = status.get("model_args")
    if not isinstance(args, dict):
        try:
            args = resolved_model_args(cfg, status.get("num_classes"))
        except (KeyError, TypeError, ValueError):
            args = {}
    resolved["model"] = {"name": cfg.model.name, "label": status.get("model") or cfg.model.name, **args}
    for key in ("device", "precision"):  # what 'auto' became, where the trainer recorded it
        if isinstance(status.get(key), str):
            resolved["runtime"][key] = status[key]
    return json.loads(json.dumps(resolved))


def config_diff(configs: list[dict], only_differences: bool = True) -> list[tuple[str, list]]:
    """Rows (dotted key, one value per config) of the fields of `configs`, in order of first appearance.

    With `only_differences`, just the fields whose values are not all equal; a field a config lacks
    is `MISSING` there (and differs)."""
    flat = [flatten(c) for c in configs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    rows = [(k, [f.get(k, MISSING) for f in flat]) for k in keys]
    if only_differences:
        rows = [r for r in rows if len({_canonical(v) for v in r[1]}) > 1]
    return rows


def format_config_value(value) -> str:
    if value is MISSING:
        return "(absent)"
    if value is None:
        return "default"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_config_value(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _canonical(value) -> str:
    return "\0missing" if value is MISSING else json.dumps(value, sort_keys=True)


def key_config(diff: list[tuple[str, list]], index: int, limit: int = 6) -> str:
    """One run's values of the differing fields, as 'key=value' lines (what a hover shows)."""
    lines = [f"{k} = {format_config_value(values[index])}" for k, values in diff[:limit]]
    if len(diff) > limit:
        lines.append(f"... and {len(diff) - limit} more")
    return "\n".join(lines)


# -- writing --------------------------------------------------------------------------------------


def write_csv(path: str | Path, header: list[str], rows: list[list]) -> Path:
    path = Path(path)
    buffer = io.StringIO()
    w = csv.writer(buffer)
    w.writerow(header)
    w.writerows([["" if v is None else v for v in row] for row in rows])
    atomic_write(path, lambda tmp: tmp.write_text(buffer.getvalue(), encoding="utf-8", newline=""))
    return path


def markdown_table(header: list[str], rows: list[list]) -> str:
    def cell(v) -> str:
        return ("" if v is None else str(v)).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(cell, header)) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def diff_table(runs: list[Run], only_differences: bool = True) -> tuple[list[str], list[list]]:
    """Header ('field', then each run's name) and rows of the config diff of `runs`."""
    names = [r.summary()["name"] for r in runs]
    rows = config_diff([resolved_config(r) for r in runs], only_differences)
    return ["field", *names], [[k, *map(format_config_value, values)] for k, values in rows]


METRIC_LABELS = {
    "loss": "train loss",
    "lr": "learning rate",
    "images_per_sec": "images / s",
    "val_loss": "validation loss",
    "top1": "validation top-1 %",
    "top5": "validation top-5 %",
}


def metric_label(key: str) -> str:
    """How a logged metric is named to people: 'val_loss' -> 'validation loss' (unknown keys: spaces for '_')."""
    return METRIC_LABELS.get(key, key.replace("_", " "))


def metric_names(runs: list[Run]) -> list[str]:
    """Every metric logged by any of `runs`: training ones first, then validation ones."""
    found: dict[str, str] = {}
    for run in runs:
        for key, curve in run.metrics().curves.items():
            found.setdefault(key, curve.kind)
    return [k for k in found if found[k] == "step"] + [k for k in found if found[k] != "step"]


def curves_table(
    runs: list[Run], metrics: list[str] | None = None, smoothing: float = 0.0
) -> tuple[list[str], list[list]]:
    """Every logged point of `runs` in long form: run, metric, step, epoch, seconds, images seen, value, smoothed."""
    header = ["run", "metric", "step", "epoch", "seconds", "images", "value", "smoothed"]
    rows: list[list] = []
    for run in runs:
        summary = run.summary()
        for key, curve in run.metrics().curves.items():
            if metrics is not None and key not in metrics:
                continue
            smooth = ema(curve.value, smoothing)
            images = x_values(curve, "images", summary["batch_size"], summary["world_size"])
            rows += [
                [summary["name"], key, int(s), float(e), float(t), int(i), float(v), float(m)]
                for s, e, t, i, v, m in zip(curve.step, curve.epoch, curve.seconds, images, curve.value, smooth)
            ]
    return header, rows


def write_comparison(
    runs: list[Run],
    out: str | Path,
    metrics: list[str] | None = None,
    x: str = "step",
    smoothing: float = DEFAULT_SMOOTHING,
    log_y: bool = False,
) -> list[Path]:
    """Write what the compare view shows as files in `out`: one PNG per metric (`metric_chart`), the config diff
    and the summary (CSV and Markdown) and every logged point (CSV). Needs no display and no Qt."""
    if x not in X_AXES:
        raise ValueError(f"x axis must be one of {', '.join(X_AXES)}, got {x!r}")
    available = metric_names(runs)
    unknown = [m for m in metrics or [] if m not in available]
    if unknown:
        raise ValueError(f"no run logged {', '.join(unknown)}; logged: {', '.join(available)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [
        metric_chart(metric_series(runs, metric, x, smoothing), metric, x, log_y).save(out / f"{metric}.png")
        for metric in metrics or available
    ]
    tables = {"config_diff": diff_table(runs), "summary": table([r.summary() for r in runs], SUMMARY_COLUMNS)}
    for name, (header, rows) in tables.items():
        written.append(write_csv(out / f"{name}.csv", header, rows))
        (out / f"{name}.md").write_text(markdown_table(header, rows), encoding="utf-8")
        written.append(out / f"{name}.md")
    written.append(write_csv(out / "metrics.csv", *curves_table(runs, metrics, smoothing)))
    return written
