"""Terminal output for the CLI: a progress bar that listens to trainer events, a summary, run tables."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

from .events import Event


class ProgressBar:
    """A trainer listener drawing a tqdm bar over the steps, with evaluations printed above it."""

    def __init__(self, file=None):
        self.file = file or sys.stderr  # looked up now, not at import: the stream may have been replaced
        self.bar = None
        self.started = time.time()

    def __call__(self, event: Event) -> None:
        d = event.data
        if event.kind == "started":
            self.started = event.time
            print(f"{d['model']}: {d['params']:,} parameters, on {d['device']} in {d['precision']}", file=self.file)
            self.bar = tqdm(
                total=d["total_steps"],
                initial=event.step,
                unit="step",
                file=self.file,
                dynamic_ncols=True,
                desc=d["run_dir"].rsplit("/", 1)[-1][:40],
            )
        elif self.bar is None:
            return
        elif event.kind == "progress":
            self.bar.update(event.step - self.bar.n)
        elif event.kind == "step":
            self.bar.update(event.step - self.bar.n)
            self.bar.set_postfix_str(f"loss {d['loss']:.4f} lr {d['lr']:.2e} {d['images_per_sec']:.0f} img/s")
        elif event.kind == "eval":
            self.bar.write(f"epoch {event.epoch:5.2f}  " + format_eval(d), file=self.file)
        elif event.kind in ("paused", "resumed"):
            self.bar.write(f"{event.kind} at step {event.step}", file=self.file)
        elif event.terminal:
            self.bar.close()


def format_eval(d: dict | None) -> str:
    """An evaluation's results; fields that are missing or not numbers (a damaged status) show as '?'."""
    if not d:
        return "-"
    text = f"val loss {_num(d.get('val_loss'), '.4f')}"
    if "top1" in d:
        text += f"  top-1 {_num(d['top1'], '.2f')}%  top-5 {_num(d.get('top5'), '.2f')}%"
    return text


def _num(value, spec: str) -> str:
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else "?"


def format_summary(event: Event, summary: dict, seconds: float) -> str:
    """The lines printed when `vitstudio train` ends."""
    lines = [
        f"{event.kind}: run {summary['id']} after {event.step} steps ({event.epoch:.2f} epochs) in {seconds:.1f} s",
        f"  folder      {summary['path']}",
    ]
    if event.data.get("reason"):
        lines.append(f"  reason      {event.data['reason']}")
    lines.append(f"  last eval   {format_eval(summary.get('last_eval'))}")
    if summary.get("best_eval"):
        lines.append(f"  best eval   {format_eval(summary['best_eval'])} (step {summary['best_eval'].get('step')})")
    if summary.get("weights"):
        lines.append(f"  weights     {summary['weights']}")
    if event.kind in ("stopped", "failed", "diverged"):
        lines.append(f"  resume with `vitstudio train --resume {summary['id']}`")
    return "\n".join(lines)


def format_runs_table(summaries: list[dict]) -> str:
    rows = [("RUN", "STATE", "STEP", "MODEL", "OBJECTIVE", "DATA", "TOP-1", "VAL LOSS")]
    for s in summaries:
        ev = s.get("last_eval") or {}
        rows.append(
            (
                s["id"],
                s["state"] or "?",
                f"{s['step']}/{s['total_steps'] or '?'}",
                s["model"] or "?",
                s["objective"] or "?",
                s["data"] or "?",
                _num(ev["top1"], ".2f") if "top1" in ev else "-",
                _num(ev["val_loss"], ".4f") if "val_loss" in ev else "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    damaged = [f"{s['id']} is damaged: {s['reason']}" for s in summaries if s["state"] == "damaged"]
    return "\n".join(lines + ([""] + damaged if damaged else []))
