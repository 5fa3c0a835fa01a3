"""The trainer on tiny models and data: events, run folder, control requests and failures."""

import threading

import pytest
import torch
from train_helpers import TINY_RUN, nan_loss_from_step, tiny_config

from vitstudio.config import Config, apply_overrides
from vitstudio.train import Trainer, find_run, list_runs, load_checkpoint
from vitstudio.train.checkpoint import load_weights
from vitstudio.train.objectives import Supervised

pytestmark = pytest.mark.slow  # every test here trains


@pytest.fixture(autouse=True)
def _data_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("VITSTUDIO_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def _steps(run):
    return [e.step for e in run.events() if e.kind == "step"]


def test_supervised_run(tmp_path):
    events = []
    trainer = Trainer(tiny_config(), runs_dir=tmp_path, listeners=[events.append])
    final = trainer.run()
    assert final.kind == "finished", final.data
    kinds = [e.kind for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished" and kinds.count("eval") == 2
    started = events[0].data
    assert started["steps_per_epoch"] == 4 and started["total_steps"] == 8 and started["num_classes"] == 10
    steps = [e for e in events if e.kind == "step"]
    assert [e.step for e in steps] == list(range(1, 9))
    assert all(e.data["loss"] > 0 and e.data["images_per_sec"] > 0 and e.data["lr"] > 0 for e in steps)
    ev = [e for e in events if e.kind == "eval"][-1].data
    assert 0 <= ev["top1"] <= ev["top5"] <= 100 and ev["val_loss"] > 0

    run = find_run(trainer.run_dir.name, tmp_path)
    assert [e.kind for e in run.events()] == kinds, "the metrics log holds every event once, in order"
    assert run.status()["state"] == "finished" and run.summary()["last_eval"]["top1"] == ev["top1"]
    assert {"config.json", "metrics.jsonl", "status.json", "last.pt", "best.pt", "model.safetensors"} <= {
        p.name for p in run.path.iterdir()
    }
    weights = load_weights(run.weights)
    assert all(torch.equal(weights[k], v) for k, v in trainer.model.state_dict().items())
    assert load_checkpoint(run.last_checkpoint)["step"] == 8
    reloaded = run.load_model()
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(reloaded(x), trainer.model.eval()(x))
    assert [r.id for r in list_runs(tmp_path)] == [run.id]


def test_pause_resume_and_stop_then_continue(tmp_path):
    cfg = tiny_config("optim.epochs=3")
    trainer = None
    seen = []

    def control(event):
        seen.append(event.kind)
        if event.kind == "step" and event.step == 2:
            trainer.pause()
            threading.Timer(0.2, trainer.resume).start()
        if event.kind == "step" and event.step == 5:
            trainer.stop()

    trainer = Trainer(cfg, runs_dir=tmp_path, listeners=[control])
    final = trainer.run()
    assert final.kind == "stopped"
    assert seen.index("paused") < seen.index("resumed") and seen[seen.index("paused") - 1] == "step"
    run = find_run(trainer.run_dir)
    assert load_checkpoint(run.last_checkpoint)["step"] == 5 and run.status()["state"] == "stopped"

    final = Trainer(runs_dir=tmp_path, resume=run.id).run()
    assert final.kind == "finished" and final.step == 12
    assert _steps(run) == list(range(1, 13))
    started = [e for e in run.events() if e.kind == "started"]
    assert [e.data["resumed_from"] for e in started] == [None, 5]


def test_nan_loss_ends_as_diverged_keeping_the_good_checkpoint(tmp_path, monkeypatch):
    nan_loss_from_step(monkeypatch, 4)
    trainer = Trainer(tiny_config("runtime.checkpoint_every=2", "runtime.log_every=1"), runs_dir=tmp_path)
    final = trainer.run()
    assert final.kind == "diverged" and "nan" in final.data["reason"] and "optim.lr" in final.data["reason"]
    run = find_run(trainer.run_dir)
    state = load_checkpoint(run.last_checkpoint)
    assert state["step"] == 2  # step 4 had the first NaN loss: its report ends the run before any later checkpoint
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert run.status()["state"] == "diverged"


def test_a_checkpoint_no_sane_loss_vouched_for_is_dropped_at_a_divergence(tmp_path, monkeypatch):
    """The first loss reported after the step-2 checkpoint is NaN: that checkpoint may hold the damage, so the
    one before it (the weights as built, step 0) is kept."""
    nan_loss_from_step(monkeypatch, 4)
    trainer = Trainer(tiny_config("runtime.checkpoint_every=2", "runtime.log_every=2"), runs_dir=tmp_path)
    final = trainer.run()
    assert final.kind == "diverged" and "step-2 checkpoint, which is dropped" in final.data["reason"]
    run = find_run(trainer.run_dir)
    assert load_checkpoint(run.last_checkpoint)["step"] == 0 and "checkpoint (step 0) is kept" in final.data["reason"]


def test_out_of_memory_fails_suggesting_a_smaller_batch(tmp_path, monkeypatch):
    def loss(self, model, images, targets):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Supervised, "loss", loss)
    trainer = Trainer(tiny_config(), runs_dir=tmp_path)
    final = trainer.run()
    assert final.kind == "failed" and "optim.batch_size=8" in final.data["reason"]
    assert find_run(trainer.run_dir).status()["state"] == "failed"


def test_corrupt_checkpoint_gives_a_clear_error_on_resume(tmp_path):
    trainer = Trainer(tiny_config("optim.epochs=1"), runs_dir=tmp_path)
    trainer.stop()  # stopped before its first step, with a checkpoint: resumable (a finished run is not)
    assert trainer.run().kind == "stopped"
    last = trainer.run_dir / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    final = Trainer(runs_dir=tmp_path, resume=trainer.run_dir).run()
    assert final.kind == "failed" and "last.pt is corrupt, truncated" in final.data["reason"]


def test_deit_recipe_with_mixup_cutmix(tmp_path):
    cfg = tiny_config(
        "data.augment=deit",
        "data.mixup=0.8",
        "data.cutmix=1.0",
        "data.repeats=2",
        "objective.label_smoothing=0.1",
        "model.drop_path_rate=0.1",
    )
    final = Trainer(cfg, runs_dir=tmp_path).run()
    assert final.kind == "finished", final.data


def test_pretrain_then_finetune_and_distill_from_our_runs(tmp_path):
    mae = Trainer(
        tiny_config("model.name=mae_vit_nano_patch4_32", "objective.name=mae", "model.patch_size=8", "optim.epochs=1"),
        runs_dir=tmp_path,
    )
    assert mae.run().kind == "finished"
    assert "top1" not in next(e for e in find_run(mae.run_dir).events() if e.kind == "eval").data

    ft = Trainer(
        tiny_config(
            "objective.name=finetune",
            f"objective.init_from={mae.run_dir}",
            "optim.layer_decay=0.75",
            "model.global_pool=avg",
            "optim.epochs=1",
        ),
        runs_dir=tmp_path,
    )
    assert ft.run().kind == "finished"
    assert ft.optimizer.param_groups[0]["lr_scale"] < 1

    # The DeiT flow: train a torchvision ResNet in the studio, then a distilled student from that run.
    resnet = Trainer(apply_overrides(Config(), [*TINY_RUN, "model.name=resnet18", "optim.epochs=1"]), runs_dir=tmp_path)
    assert resnet.run().kind == "finished"
    student = Trainer(
        tiny_config(
            "model.name=deit_nano_distilled_patch4_32",
            "objective.name=distill",
            f"objective.teacher={resnet.run_dir.name}",
            "optim.epochs=1",
        ),
        runs_dir=tmp_path,
    )
    final = student.run()
    assert final.kind == "finished", final.data
    teacher = student.objective.criterion.teacher
    assert type(teacher).__name__ == "ResNet" and not teacher.training
    assert torch.equal(teacher.fc.weight.cpu(), resnet.model.fc.weight.cpu())


def test_an_argument_the_model_does_not_take_is_named_with_the_way_out():
    from vitstudio.config import ConfigError
    from vitstudio.train.trainer import build_model

    cfg = tiny_config("model.name=mae_vit_nano_patch4_32", "objective.name=mae", "model.global_pool=avg")
    with pytest.raises(
        ConfigError,
        match=r"model.global_pool: mae_vit_nano_patch4_32 does not take global_pool; "
        r"unset it \(--set model.global_pool=none\)",
    ):
        build_model(cfg)
