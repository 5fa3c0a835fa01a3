"""A study's report: its runs' results per arm, each claim's verdict, curves and the figure that matters.

`results(study, jobs)` reads the numbers (the analyses of `verdict.ANALYSIS_METRICS` load the models);
`write_report(study, budget, runs_dir, out)` writes `<out>/<name>.md` and its PNG files beside it.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..analysis import attention_distance, figures, geometry, patch_position_embedding, position_similarity, render
from ..analysis.sources import example_images, from_run
from ..analysis.structure import distance_slope, row_column_score
from ..models import family_of
from ..train.build import build_model
from ..train.compare import format_count, format_duration
from .plot import line_chart
from .runner import Job, job_state, plan
from .spec import Study
from .verdict import ANALYSIS_METRICS, METRICS, Verdict, evaluate, mean_std

TABLE_METRICS = ("best_top1", "final_top1", "best_val_loss")


@dataclass
class Results:
    """Per result key (an arm, or "untrained(arm)"): one row per finished run; and the analyses' arrays."""

    rows: dict[str, list[dict]]
    states: dict[str, list[tuple[int, str]]]  # arm -> (seed, state) of every job
    arrays: dict[str, dict] = field(default_factory=dict)  # key -> {"similarity", "distance", "over"} of its first run

    def values(self, metric: str) -> dict[str, list[float]]:
        return {k: [r[metric] for r in rows if r.get(metric) is not None] for k, rows in self.rows.items()}


def results(study: Study, jobs: list[Job]) -> Results:
    """The finished runs' numbers; analysis metrics, and their arrays, where a claim or figure needs them."""
    wanted = {c.metric for c in study.claims} & set(ANALYSIS_METRICS)
    untrained = {k[len("untrained(") : -1] for c in study.claims for k in c.result_keys if k.startswith("untrained(")}
    rows: dict[str, list[dict]] = {}
    states: dict[str, list[tuple[int, str]]] = {}
    arrays: dict[str, dict] = {}
    for job in jobs:
        state = job_state(study, jobs, job)
        states.setdefault(job.arm, []).append((job.seed, state))
        if state != "finished":
            continue
        s = job.run.summary()
        best, last = s["best"] or {}, s["last_eval"] or {}
        row = {
            "seed": job.seed,
            "run": job.run.id,
            "best_top1": best.get("top1"),
            "final_top1": last.get("top1"),
            "best_val_loss": best.get("val_loss"),
            "seconds": s["seconds"],
            "params": s["params"],
        }
        keys = [(job.arm, False)] + ([(f"untrained({job.arm})", True)] if job.arm in untrained else [])
        for key, at_init in keys:
            # the untrained model has no training results of its own: only its analyses
            r = {**row, **dict.fromkeys((*TABLE_METRICS, "seconds"))} if at_init else row
            if wanted or study.figures:
                a = analyse(job.run, job.seed, at_init, "distance_slope" in wanted or "distance" in study.figures)
                r.update({m: a[m] for m in ANALYSIS_METRICS})
                arrays.setdefault(key, a)
            rows.setdefault(key, []).append(r)
    return Results(rows, states, arrays)


def analyse(run, seed: int, at_init: bool = False, distance: bool = True) -> dict:
    """Figure 7's analyses of a run's model (or, `at_init`, of the same model as built before training):
    position-embedding similarity and its row/column score and, with `distance`, mean attention distance over
    validation images and its slope with depth (None where the model has no position embedding, one block)."""
    source = from_run(run.path)
    model = source.model
    if not family_of(model).transformer:
        return {"similarity": None, "distance": None, "over": "", "rowcol": None, "distance_slope": None}
    if at_init:
        torch.manual_seed(seed)
        model = build_model(run.config(), run.status().get("num_classes")).eval()
    try:
        similarity = position_similarity(patch_position_embedding(model), geometry(model).grid)
    except ValueError:  # no position embedding
        similarity = None
    dist, over = None, ""
    if distance:
        images, over = example_images(source, 32)
        dist = attention_distance(model, images, source.mean, source.std)
    return {
        "similarity": similarity,
        "distance": dist,
        "over": over,
        "rowcol": row_column_score(similarity) if similarity is not None else None,
        "distance_slope": distance_slope(dist) if dist is not None and len(dist) > 1 else None,
    }


def verdicts(study: Study, res: Results) -> list[Verdict]:
    return [evaluate(c, res.values(c.metric)) for c in study.claims]


def _stat(values: list[float], digits: int = 2) -> str:
    if not values:
        return "-"
    mean, std = mean_std(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def summary_line(study: Study, res: Results) -> str:
    """The study's one-line verdict: each claim's outcome."""
    return "; ".join(f"{c.text or c.describe()}: **{v.outcome}**" for c, v in zip(study.claims, verdicts(study, res)))


def write_report(study: Study, budget: str, runs_dir=None, out=".") -> tuple[Path, str]:
    """Write `<out>/<study>.md` with its PNG files; return its path and the one-line verdict (`summary_line`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = plan(study, budget, runs_dir)
    res = results(study, jobs)
    summary = summary_line(study, res)
    claim_metrics = [m for m in dict.fromkeys(c.metric for c in study.claims) if m not in TABLE_METRICS]
    total = sum(r["seconds"] or 0 for rows in res.rows.values() for r in rows)
    lines = [
        f"# {study.title}",
        "",
        f"> {study.claim}" if study.claim else "",
        f"> — {study.source}" if study.source else "",
        "",
        f"Budget `{budget}`; {sum(len(s) for s in res.states.values())} runs "
        f"({sum(st == 'finished' for s in res.states.values() for _, st in s)} finished), "
        f"{format_duration(total)} of training in all; report written {time.strftime('%Y-%m-%d %H:%M')} "
        f"on {platform.machine()} {platform.system()}. Study file: `{study.path}`.",
        "",
        f"**Verdict:** {summary}",
        "",
        "## Verdicts",
        "",
        "| claim | test | verdict |",
        "|---|---|---|",
    ]
    for claim, v in zip(study.claims, verdicts(study, res)):
        lines.append(f"| {claim.text} | {claim.describe()} | **{v.outcome}** — {v.line().split(': ', 1)[1]} |")
    lines += [
        "",
        "Computed from the numbers below: each arm counts as its seeds' mean; a claim is *inconclusive* when the "
        "largest standard deviation across seeds of an arm it reads is larger than the distance between the "
        "difference and the margin (see `vitstudio/studies/verdict.py`).",
        "",
        "## Arms",
        "",
        "| arm | seeds | " + " | ".join(METRICS[m] for m in (*TABLE_METRICS, *claim_metrics)) + " | time | params |",
        "|---|---|" + "---|" * (len(TABLE_METRICS) + len(claim_metrics) + 2),
    ]
    for key, rows in res.rows.items():
        cells = [_stat([r[m] for r in rows if r.get(m) is not None], 3 if m in ANALYSIS_METRICS else 2)
                 for m in (*TABLE_METRICS, *claim_metrics)]  # fmt: skip
        secs = [r["seconds"] for r in rows if r["seconds"] is not None]
        time_cell = format_duration(float(np.mean(secs))) if secs else "-"
        params = format_count(rows[0]["params"]) if rows[0]["params"] else "-"
        seeds = ", ".join(str(r["seed"]) for r in rows)
        lines.append(f"| {key} | {seeds} | {' | '.join(cells)} | {time_cell} | {params} |")
    lines += ["", "## Curves", ""]
    series_top1, series_loss = [], []
    for job in jobs:
        if job.run is None or job_state(study, jobs, job) != "finished":
            continue
        curves = job.run.metrics().curves
        if "top1" in curves:
            series_top1.append((job.arm, curves["top1"].epoch, curves["top1"].value))
        elif "val_loss" in curves:
            series_loss.append((job.arm, curves["val_loss"].epoch, curves["val_loss"].value))
    for name, series, ylabel in (("top1", series_top1, "validation top-1 (%)"), ("loss", series_loss, "val loss")):
        if series:
            title = f"{study.title}: {ylabel} (one line per seed)"
            path = render.save_png(
                line_chart(series, title, "epoch", ylabel, markers=True), out / f"{study.name}_{name}.png"
            )
            lines += [f"![{ylabel}]({path.name})", ""]
    if "position" in study.figures:
        tiles, labels = [], []
        for key, a in res.arrays.items():
            if a["similarity"] is not None:
                fig = figures.position_figure(a["similarity"])
                tiles.append(render.resize(fig, tiles[0].shape[:2]) if tiles else fig)
                labels.append(key)
        if tiles:
            grid = render.tile_grid(tiles, ncols=len(tiles), gap=8, labels=labels, font_size=13)
            path = render.save_png(grid, out / f"{study.name}_position.png")
            lines += [
                "## Position-embedding similarity",
                "",
                "Cosine similarity of each patch's position embedding with every other's (first seed of each arm; "
                "arms without a position embedding are left out).",
                "",
                f"![position similarity]({path.name})",
                "",
            ]
    if "distance" in study.figures:
        series = [
            (key, np.arange(1, len(a["distance"]) + 1), a["distance"].mean(axis=1))
            for key, a in res.arrays.items()
            if a["distance"] is not None
        ]
        if series:
            over = next(iter(res.arrays.values()))["over"]
            chart = line_chart(
                series, f"mean attention distance over {over}", "block", "pixels (mean of heads)", markers=True
            )
            path = render.save_png(chart, out / f"{study.name}_distance.png")
            lines += ["## Mean attention distance", "", f"![mean attention distance]({path.name})", ""]
    lines += ["## Runs", "", "| arm | seed | state | run |", "|---|---|---|---|"]
    for job in jobs:
        state = job_state(study, jobs, job)
        reason = (job.run.status().get("reason") if job.run else job.error) or ""
        lines.append(
            f"| {job.arm} | {job.seed} | {state}{f' ({reason})' if reason else ''} | {job.run.id if job.run else '-'} |"
        )
    path = out / f"{study.name}.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, summary
