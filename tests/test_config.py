import json

import pytest

from vitstudio.config import Config, ConfigError, apply_overrides, check, list_presets, load_config, validate


def test_presets_load_and_validate():
    assert "quick" in list_presets()
    for name in list_presets():
        validate(load_config(name))


def test_torchvision_classifiers_are_models_too():
    validate(apply_overrides(Config(), ["model.name=resnet18"]))


def test_json_round_trip():
    cfg = apply_overrides(Config(), ["optim.betas=0.9,0.95", "model.depth=3", "runtime.name=a"])
    back = Config.from_dict(json.loads(cfg.to_json()))
    assert back == cfg and back.optim.betas == (0.9, 0.95)


def test_overrides_coerce_types():
    cfg = apply_overrides(
        Config(),
        [
            "optim.lr=3e-4",
            "optim.epochs=7",
            "model.class_token=false",
            "model.global_pool=avg",
            "model.mlp_ratio=2",
            "objective.mask_ratio=none",
        ],
    )
    assert cfg.optim.lr == 3e-4 and cfg.optim.epochs == 7 and cfg.model.class_token is False
    assert isinstance(cfg.model.mlp_ratio, float) and cfg.objective.mask_ratio is None
    assert Config().optim.lr != 3e-4, "overrides must not change the defaults"


def test_toml_file_over_a_base(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text("[optim]\nlr = 0.01\n[model]\ndepth = 2\n")
    cfg = load_config(path, base=load_config("quick"))
    assert cfg.optim.lr == 0.01 and cfg.model.depth == 2
    assert cfg.optim.epochs == load_config("quick").optim.epochs


@pytest.mark.parametrize(
    "overrides, field, words",
    [
        (["model.patch_size=6"], "model.patch_size", "does not divide data.img_size 32"),
        (["model.num_heads=3"], "model.num_heads", "does not divide model.embed_dim"),
        (["optim.lr=0"], "optim.lr", "> 0"),
        (["model.name=vit_nonexistent"], "model.name", "unknown model"),
        (["objective.name=magic"], "objective.name", "not one of"),
        (["model.class_token=false"], "model.class_token", "needs a class token"),
        (["objective.name=distill"], "objective.teacher", "needs a teacher"),
        (["objective.name=finetune"], "objective.init_from", "needs weights"),
        (["optim.warmup_epochs=100"], "optim.warmup_epochs", "must be in"),
        (["runtime.device=tpu"], "runtime.device", "not one of"),
        (["model.name=resnet18", "model.depth=3"], "model", "takes no model overrides"),
    ],
)
def test_validation_names_field_and_reason(overrides, field, words):
    with pytest.raises(ConfigError) as err:
        validate(apply_overrides(Config(), overrides))
    assert err.value.field == field and words in str(err.value) and str(err.value).startswith(field + ":")


@pytest.mark.parametrize(
    "overrides, field",
    [
        (["optim.lrr=1"], "optim.lrr"),
        (["optim.lr=fast"], "optim.lr"),
        (["optim.epochs=2.5"], "optim.epochs"),
        (["nosection.x=1"], "nosection.x"),
        (["optim.lr"], "optim.lr"),
        (["optim.betas=0.9"], "optim.betas"),
    ],
)
def test_bad_overrides_name_the_field(overrides, field):
    with pytest.raises(ConfigError) as err:
        apply_overrides(Config(), overrides)
    assert err.value.field == field


def test_unknown_fields_rejected_unless_lenient():
    with pytest.raises(ConfigError, match="did you mean 'lr'"):
        Config.from_dict({"optim": {"lrr": 1}})
    assert Config.from_dict({"optim": {"lrr": 1}, "future": {}}, strict=False) == Config()


def test_check_lists_every_problem():
    errors = check(apply_overrides(Config(), ["optim.lr=-1", "optim.epochs=0", "data.val_fraction=1.5"]))
    assert {e.field for e in errors} >= {"optim.lr", "optim.epochs", "data.val_fraction"}


def test_bad_toml_and_unknown_preset(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[optim\nlr = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="unknown preset 'nope'; available: .*quick"):
        load_config("nope")


def test_a_string_fields_own_values_win_over_the_null_spelling():
    cfg = apply_overrides(Config(), ["data.augment=none", "model.pos_embed=none", "objective.mask_ratio=none"])
    assert cfg.data.augment == "none" and cfg.model.pos_embed == "none" and cfg.objective.mask_ratio is None
    assert apply_overrides(Config(), ["data.augment='none'"]).data.augment == "none"
    assert apply_overrides(cfg, ["model.pos_embed=null"]).model.pos_embed is None  # back to the model's default
    with pytest.raises(ConfigError, match="data.name: 'none' is not one of"):
        validate(apply_overrides(Config(), ["data.name=none"]))
