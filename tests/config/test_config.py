"""`tfcolor.config`: one authority that builds and checks a run's configuration, whatever the entry point."""
import dataclasses
import json

import pytest

import export.__main__ as export_main
from tfcolor import colorize, config, evaluate, train, tune
from tfcolor.config import ConfigError, ModelConfig, RunConfig, flags, run_layout
from tfcolor.models import factory

# (field, invalid value, whether `python -m tfcolor.tune` takes the flag too)
INVALID = [
    ("epochs", 0, True),
    ("batch_size", -3, True),
    ("dataset", "imagenet", True),
    ("image_size", 40, True),
    ("model", "ganz", False),
    ("lr", "nan", False),
    ("precision", "half", False),
    ("color_space", "hsv", False),
    ("augment", "maybe", False),
]


def api_message(field, value) -> str:
    with pytest.raises(ConfigError) as raised:
        config.resolve({field: value})
    return str(raised.value)


def usage_error(main, argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("field, value, tune_takes_it", INVALID, ids=[f for f, *_ in INVALID])
def test_every_entry_point_refuses_a_bad_value_with_the_same_message(field, value, tune_takes_it, tmp_path, capsys):
    message = api_message(field, value)
    flag = "--" + field.replace("_", "-")
    section = next(s for s, kind in config.SECTIONS.items() if field in {f.name for f in dataclasses.fields(kind)})
    assert message.startswith(f"{section}.{field} ({flag}): expected ")

    run = ["--checkpoints-path", str(tmp_path / "run")]
    assert message in usage_error(train.main, [flag, str(value), *run], capsys)

    file = tmp_path / "config.json"
    typed = float(value) if field == "lr" else value
    file.write_text(json.dumps({section: {field: typed}}), encoding="utf-8")
    assert message in usage_error(train.main, ["--config", str(file), *run], capsys)

    with pytest.raises(ConfigError) as raised:
        RunConfig.from_dict({section: {field: typed}})
    assert str(raised.value) == message

    if tune_takes_it:
        assert message in usage_error(tune.main, [flag, str(value), "--directory", str(tmp_path / "search")], capsys)
    assert not (tmp_path / "run").exists() and not (tmp_path / "search").exists()


def test_train_api_and_model_factory_validate_a_config_built_in_code(tmp_path):
    bad = RunConfig(model=dataclasses.replace(ModelConfig(), model="ganz"))
    with pytest.raises(ConfigError, match=r"model.model \(--model\): expected one of gan, unet, got 'ganz'"):
        train.train(bad, tmp_path / "run")
    with pytest.raises(ConfigError, match="model.model"):
        factory.build_colorizer(bad)
    assert not (tmp_path / "run").exists()


def test_every_bad_field_is_named_at_once():
    with pytest.raises(ConfigError) as raised:
        config.resolve({"epochs": 0, "beta1": 1.5, "jit_compile": "maybe"})
    text = str(raised.value)
    assert "train.epochs" in text and "train.beta1" in text
    assert "train.jit_compile (--jit-compile): expected one of auto, on, off" in text


def test_unknown_names_are_refused_with_the_known_ones():
    with pytest.raises(ConfigError, match="unknown setting 'learning_rate'; expected one of .*lr_decay"):
        config.resolve({"learning_rate": 1e-3})
    with pytest.raises(ConfigError, match=r"unknown config sections \['trian'\]"):
        RunConfig.from_dict({"trian": {"lr": 1e-3}})
    with pytest.raises(ConfigError, match=r"unknown train config keys \['learning_rate'\]"):
        RunConfig.from_dict({"train": {"learning_rate": 1e-3}})
    with pytest.raises(ConfigError, match="network \\(--network\\): expected one of cifar10, places365, demo"):
        config.resolve({"network": "resnet"})


def test_flag_strings_and_json_values_are_typed_like_the_fields():
    resolved = config.resolve({"lr": "1e-3", "augment": "0", "max_steps": "7", "dataset": "folder",
                               "dataset_path": "photos", "image_size": "64"})
    assert resolved.train.lr == 1e-3 and resolved.data.augment is False and resolved.train.max_steps == 7
    # A folder trained below 128 px gets the CIFAR-10 network's tables, not the 256-px Places365 ones, and
    # keeps the folder preset's confidence network.
    assert resolved.model == dataclasses.replace(config.NETWORK_PRESETS["cifar10"], confidence=True)
    loaded = RunConfig.from_dict(json.loads(resolved.to_json()))
    assert loaded == resolved
    with pytest.raises(ConfigError, match=r"train.seed \(--seed\): expected an integer, got 1.5"):
        RunConfig.from_dict({"train": {"seed": 1.5}})


def test_the_general_unet_is_one_table_for_flags_and_tuner():
    from_flags = config.resolve({"base_filters": 8, "depth": 3, "model": "unet"}).model
    assert from_flags == config.general_unet(8, 3, "unet")
    assert from_flags.generator_filters == (8, 16, 32, 64) and from_flags.generator_dropout == (0.5, 0.5, 0.0)
    assert from_flags.network_preset == config.CUSTOM_NETWORK
    with pytest.raises(ConfigError, match=r"image_size \(--image-size\): expected a multiple of 2\*\*depth = 8"):
        config.resolve({"base_filters": 8, "depth": 3, "image_size": 20})


def test_missing_dataset_path_is_a_config_error():
    with pytest.raises(ConfigError, match=r"data.dataset_path \(--dataset-path\): expected the folder"):
        config.resolve({"dataset": "cifar10"})


def test_resuming_refuses_changes_that_make_another_model():
    saved = config.resolve({})
    assert config.incompatible_changes(saved, config.resolve({"lr": 1e-3, "max_steps": 9, "augment": False}, base=saved)) == []
    assert config.incompatible_changes(saved, config.resolve({"image_size": 64, "color_space": "rgb"}, base=saved)) == [
        "data.color_space", "data.image_size"]


def test_presets_follow_the_published_settings():
    presets = config.PRESETS
    assert presets["cifar10"].train.batch_size == 128 and presets["cifar10"].train.epochs == 200
    assert presets["cifar10"].train.lr_decay_steps == 10_000
    assert presets["places365"].train.batch_size == 16 and presets["places365"].train.label_smoothing
    assert presets["places365"].train.epochs == 10
    for name, preset in presets.items():
        # The folder preset weighs L1 three times as much: measured on photo sources never trained on.
        assert preset.train.seed == 100 and preset.train.lr == 3e-4
        assert preset.train.l1_weight == (300.0 if name == "folder" else 100.0)
        config.resolve({} if name == "demo" else {"dataset_path": "somewhere"}, base=preset)  # valid once given its data


def test_a_resumed_run_keeps_its_saved_dataset_path_when_a_flag_names_only_the_dataset(tmp_path):
    saved = config.resolve({"dataset": "folder", "dataset_path": str(tmp_path / "photos"), "image_size": 64})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(saved.to_json(), encoding="utf-8")
    args = train.build_parser().parse_args(["--checkpoints-path", str(run_dir), "--dataset", "folder", "--lr", "1e-4"])
    resolved, resolved_dir = flags.resolve_run(args)
    assert resolved_dir == run_dir
    assert resolved.data == saved.data and resolved.model == saved.model and resolved.train.lr == 1e-4


def test_a_config_file_may_leave_the_dataset_path_to_a_flag(tmp_path):
    values = json.loads(config.preset_for("folder").to_json())
    values["data"]["dataset_path"] = None
    (tmp_path / "best.json").write_text(json.dumps(values), encoding="utf-8")
    args = train.build_parser().parse_args(["--config", str(tmp_path / "best.json"), "--dataset-path", str(tmp_path)])
    resolved, _ = flags.resolve_run(args)
    assert resolved.data.dataset_path == str(tmp_path)
    with pytest.raises(ConfigError, match="dataset_path"):  # without the flag, training still refuses it
        flags.resolve_run(train.build_parser().parse_args(["--config", str(tmp_path / "best.json")]))


@pytest.mark.parametrize("command", ["evaluate", "colorize", "export"])
def test_sizes_outside_the_config_are_refused_as_usage_errors_too(command, tmp_path, capsys):
    main = {"evaluate": evaluate.main, "colorize": colorize.main, "export": export_main.main}[command]
    argv = {"evaluate": [], "colorize": ["--test-input", str(tmp_path), "--test-output", str(tmp_path / "out")],
            "export": ["--output", str(tmp_path / "models")]}[command]
    message = usage_error(main, ["--run", str(tmp_path / "run"), *argv, "--image-size", "0"], capsys)
    assert "--image-size: expected a positive integer, got 0" in message


def test_a_config_is_saved_whole_or_not_at_all(tmp_path):
    first = config.resolve({"lr": 1e-3})
    run_layout.save_config(tmp_path, first)
    assert RunConfig.load(tmp_path / "config.json") == first

    class Broken:
        def to_json(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        run_layout.save_config(tmp_path, Broken())
    assert RunConfig.load(tmp_path / "config.json") == first  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]  # no temporary file left
