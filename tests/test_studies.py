"""Studies: the file format (arms, axes, stages, bad references), the verdict logic on hand-made results,
and, training tiny models, resuming an interrupted run, a failed arm, and every packaged study's smoke budget."""

import json
import subprocess
import sys

import numpy as np
import pytest
from train_helpers import TINY_STUDY_BASE

from vitstudio.analysis.structure import distance_slope, row_column_score
from vitstudio.studies import (
    HELD,
    INCONCLUSIVE,
    NO_RESULT,
    NOT_HELD,
    StudyError,
    StudyRunner,
    evaluate,
    job_state,
    list_studies,
    load_study,
    parse_claim,
    parse_study,
    plan,
    prepare,
    write_report,
)

TINY = f"""
[study]
title = "Tiny"
seeds = [0, 1]

[base]
{TINY_STUDY_BASE}data.num_train = 64
optim.epochs = 1
optim.batch_size = 32
optim.warmup_epochs = 0.0
runtime.log_every = 1
"""


def tiny(extra: str, name: str = "tiny"):
    return parse_study(TINY + extra, name)


# -- the file format ------------------------------------------------------------------------------


def test_arms_seeds_budgets_and_overrides():
    study = tiny(
        """
[budgets.smoke]
seeds = [3]
optim.epochs = 2
[budgets.smoke.arms.none]
optim.lr = 1e-4
[arms.none]
model.pos_embed = "none"
seeds = [0]
[arms.learned]
model.pos_embed = "learned"
"""
    )
    assert list(study.arms) == ["none", "learned"]
    assert study.seeds_for("none", "cpu") == (0,) and study.seeds_for("learned", "cpu") == (0, 1)
    assert study.seeds_for("learned", "smoke") == (3,)
    cfg = study.config("none", 0, "smoke")
    assert cfg.model.pos_embed == "none" and cfg.optim.epochs == 2 and cfg.optim.lr == 1e-4
    assert study.config("learned", 1, "smoke").optim.lr == 2.5e-3  # the preset's
    assert study.config("learned", 1).runtime.seed == 1 and study.config("learned", 1).optim.epochs == 1
    assert [(j.arm, j.seed) for j in plan(study, "cpu", "/nonexistent")] == [
        ("none", 0),
        ("learned", 0),
        ("learned", 1),
    ]


def test_axes_make_the_product_of_their_levels():
    study = tiny(
        """
[axes.model.plain]
model.pos_embed = "learned"
[axes.model.nopos]
model.pos_embed = "none"
[axes.length.short]
optim.epochs = 1
[axes.length.long]
optim.epochs = 3
"""
    )
    assert list(study.arms) == ["plain_short", "plain_long", "nopos_short", "nopos_long"]
    cfg = study.config("nopos_long", 0)
    assert cfg.model.pos_embed == "none" and cfg.optim.epochs == 3


def test_stages_come_after_the_arms_they_refer_to():
    study = tiny(
        """
[arms.student]
objective.name = "distill"
objective.teacher = "@teacher"
[arms.finetuned]
objective.name = "finetune"
objective.init_from = "@student"
[arms.teacher]
model.depth = 2
seeds = [0]
"""
    )
    assert list(study.arms) == ["teacher", "student", "finetuned"]
    assert study.arms["student"].needs == {"objective.teacher": "teacher"}
    assert study.config("student", 1).objective.teacher == "@teacher"  # resolved by the runner, to a run id


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '[arms.student]\nobjective.teacher = "@missing"',
            r"study bad, arm student: objective.teacher refers to @missing",
        ),
        (
            '[arms.a]\nobjective.init_from = "@b"\n[arms.b]\nobjective.init_from = "@a"',
            r"study bad, arm a: its stages form a cycle \(a -> @b -> @a\)",
        ),
        ('[arms.x]\nmodel.pos_embedd = "none"', r"study bad, arm x: model.pos_embedd: unknown field; did you mean"),
        ('[arms.x]\nseeds = "1"', r"study bad, arm x: seeds must be a list of integers"),
        ("", r"study bad: no arms"),
        ("[arms.x]\n[budgets.huge]\noptim.epochs = 1", r"study bad: unknown budget 'huge'"),
        ("[arms.x]\n[budgets.cpu.arms.y]\noptim.epochs = 1", r"study bad, budget cpu: arm 'y' is not an arm"),
        (
            '[arms.x]\n[[claims]]\nmetric = "best_top1"\nleft = "x"\nop = ">"\nright = "z"',
            r"study bad, claim 1: 'z' is not an arm",
        ),
        ('[arms.x]\n[[claims]]\nmetric = "top9"\nleft = "x"\nop = ">"\nright = "x"', r"claim 1: metric 'top9'"),
        ("[arms.x\n", r"study bad \(text\) is not valid TOML"),
    ],
)
def test_bad_study_files_are_refused_naming_the_study_and_arm(extra, message):
    with pytest.raises(StudyError, match=message):
        tiny(extra, "bad")


def test_unknown_study_and_missing_file(tmp_path):
    with pytest.raises(StudyError, match="unknown study 'nope'; packaged: "):
        load_study("nope")
    with pytest.raises(StudyError, match="no such study file"):
        load_study(tmp_path / "missing.toml")


@pytest.mark.parametrize("name", list_studies())
def test_packaged_studies_are_valid_at_every_budget(name):
    from vitstudio.config import check

    study = load_study(name)
    assert study.claims and study.source and study.claim, "a study states its claim, source and tests"
    assert set(study.budgets) == {"smoke", "cpu", "gpu"}
    for budget in ("smoke", "cpu", "gpu"):
        for arm in study.arms:
            cfg = study.config(arm, study.seeds_for(arm, budget)[0], budget)
            assert not check(cfg), (budget, arm, check(cfg))  # "@arm" references pass as teacher / init_from
    accuracy_claims = [c for c in study.claims if "top1" in c.metric]
    if accuracy_claims:  # the inconclusive rule needs a spread
        assert all(len(study.seeds_for(a, "cpu")) >= 2 for c in accuracy_claims for a in c.arms)


# -- the verdict ----------------------------------------------------------------------------------


def claim(left="none", op="<", right="min(a, b)", margin=1.0, metric="best_top1"):
    return parse_claim({"text": "t", "metric": metric, "left": left, "op": op, "right": right, "margin": margin})


def test_verdict_held_not_held_and_inconclusive():
    c = claim()
    assert evaluate(c, {"none": [80.0, 80.2], "a": [85.0, 85.2], "b": [84.0, 84.2]}).outcome == HELD
    v = evaluate(c, {"none": [84.0, 84.0], "a": [84.5, 84.5], "b": [86.0, 86.0]})
    assert v.outcome == NOT_HELD and v.gap == pytest.approx(-0.5) and v.spread == 0
    # the difference (1.5) clears the margin by 0.5, but the seeds spread by about 2.8: inconclusive
    v = evaluate(c, {"none": [80.0, 84.0], "a": [83.5, 83.5], "b": [90.0, 90.0]})
    assert v.outcome == INCONCLUSIVE and v.spread == pytest.approx(2 * 2**0.5)
    # a large effect holds even when the spread exceeds the margin
    assert evaluate(c, {"none": [60.0, 64.0], "a": [80.0, 80.0], "b": [81.0, 82.0]}).outcome == HELD


def test_verdict_of_agreement_sums_numbers_and_untrained():
    c = claim("max(a, b, c)", "~", "min(a, b, c)", margin=2.0)
    assert evaluate(c, {"a": [80.0], "b": [81.0], "c": [81.5]}).outcome == HELD
    assert evaluate(c, {"a": [80.0], "b": [81.0], "c": [83.0]}).outcome == NOT_HELD
    gap = claim("long_h - long_v", "<", "short_h - short_v", margin=0.0)
    r = {"long_h": [90.0], "long_v": [88.0], "short_h": [80.0], "short_v": [70.0]}
    assert evaluate(gap, r).outcome == HELD and evaluate(gap, r).gap == pytest.approx(8.0)
    slope = claim("vit", ">", "0", margin=0.5, metric="distance_slope")
    assert evaluate(slope, {"vit": [1.0, 1.2]}).outcome == HELD
    assert evaluate(slope, {"vit": [0.1, 0.2]}).outcome == NOT_HELD
    rc = claim("vit", ">", "untrained(vit)", margin=0.05, metric="rowcol")
    assert rc.result_keys == ("vit", "untrained(vit)") and rc.arms == ("vit",)
    assert evaluate(rc, {"vit": [0.3, 0.31], "untrained(vit)": [0.0, 0.01]}).outcome == HELD
    v = evaluate(rc, {"vit": [0.3], "untrained(vit)": []})
    assert v.outcome == NO_RESULT and "untrained(vit)" in v.line()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"metric": "best_top1", "left": "a", "op": "=>", "right": "b"}, "op '=>'"),
        ({"metric": "best_top1", "left": "a +", "op": ">", "right": "b"}, "ends where a term should be"),
        ({"metric": "best_top1", "left": "median(a)", "op": ">", "right": "b"}, "unknown function 'median'"),
        ({"metric": "best_top1", "left": "untrained(a, b)", "op": ">", "right": "b"}, "takes one arm"),
        ({"metric": "best_top1", "left": "a b", "op": ">", "right": "b"}, "expected \\+ or -"),
        ({"metric": "best_top1", "left": "a", "op": ">", "right": "b", "margin": -1}, "margin must be"),
    ],
)
def test_bad_claims(table, message):
    with pytest.raises(ValueError, match=message):
        parse_claim(table)


def test_figure_seven_scores():
    import torch

    from vitstudio.analysis import position_similarity
    from vitstudio.models.pos_embed import sincos_2d

    rng = np.random.default_rng(0)
    random = position_similarity(rng.normal(size=(64, 32)), (8, 8))
    structured = position_similarity(sincos_2d(32, (8, 8)).reshape(64, 32), (8, 8))
    assert abs(row_column_score(random)) < 0.05 < row_column_score(structured)
    assert distance_slope(np.array([[2.0, 4.0], [4.0, 6.0], [6.0, 8.0]])) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="at least 2 layers"):
        distance_slope(torch.ones(1, 3))


# -- running (trains tiny models) -----------------------------------------------------------------


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.mark.slow
def test_a_study_resumes_an_interrupted_run_and_goes_on_past_a_failed_arm(tmp_path):
    from vitstudio.train import Trainer

    study = tiny(
        """
[arms.teacher]
seeds = [0]
[arms.student]
objective.name = "distill"
objective.teacher = "@teacher"
objective.distill_type = "soft"
[arms.broken]
optim.batch_size = 4096
seeds = [0]
[arms.after_broken]
objective.name = "finetune"
objective.init_from = "@broken"
seeds = [0]
"""
    )
    runs = tmp_path / "runs"
    jobs = plan(study, "smoke", runs)
    first = prepare(study, "smoke", jobs, jobs[0], runs)
    assert first.meta()["tags"] == ["study:tiny", "budget:smoke", "arm:teacher", "seed:0"]
    trainer = Trainer(None, runs, [lambda e: e.kind == "step" and trainer.stop()], resume=first.path)
    assert trainer.run().kind == "stopped"
    status = json.loads((first.path / "status.json").read_text())
    (first.path / "status.json").write_text(json.dumps({**status, "state": "running", "pid": _dead_pid()}))
    assert job_state(study, plan(study, "smoke", runs), jobs[0]) == "interrupted"  # its process died

    seen = []
    jobs = StudyRunner(study, "smoke", runs, on_job=lambda job, state: seen.append((job.label, state))).run()
    states = {j.label: job_state(study, jobs, j) for j in jobs}
    assert states == {
        "teacher (seed 0)": "finished",
        "student (seed 0)": "finished",
        "student (seed 1)": "finished",
        "broken (seed 0)": "failed",
        "after_broken (seed 0)": "blocked",
    }
    assert jobs[0].run == first and first.status()["step"] == first.status()["total_steps"]  # resumed, not redone
    assert [e.kind for e in first.events()].count("started") == 2
    assert "batch_size" in jobs[3].run.status()["reason"]
    for student in jobs[1:3]:  # both seeds learn from the one teacher run, referred to by its id
        assert student.run.config().objective.teacher == first.id
    assert seen[-1] == ("broken (seed 0)", "failed")

    again = StudyRunner(study, "smoke", runs).run()  # nothing left to do: the finished runs are kept
    assert [j.run for j in again[:4]] == [j.run for j in jobs[:4]]


@pytest.mark.slow
@pytest.mark.parametrize("name", list_studies())
def test_packaged_study_smoke_budget_runs_and_reports(name, tmp_path):
    study = load_study(name)
    jobs = StudyRunner(study, "smoke", tmp_path / "runs").run()
    assert all(job_state(study, jobs, j) == "finished" for j in jobs), [(j.label, j.run.status()) for j in jobs]
    path, line = write_report(study, "smoke", tmp_path / "runs", tmp_path / "report")
    text = path.read_text()
    assert study.title in text and "## Verdicts" in text
    assert (tmp_path / "report" / f"{name}_top1.png").exists()
    assert line.count("**") == 2 * len(study.claims) and NO_RESULT not in line
