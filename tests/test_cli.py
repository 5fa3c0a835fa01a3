from vitstudio import __version__
from vitstudio.cli import main


def test_version_and_model_list(capsys):
    try:
        main(["--version"])
    except SystemExit as e:
        assert e.code == 0
    assert __version__ in capsys.readouterr().out
    assert main(["models", "vit_base_patch16_*"]) == 0
    out = capsys.readouterr().out
    assert "vit_base_patch16_224" in out and "vit_small" not in out
