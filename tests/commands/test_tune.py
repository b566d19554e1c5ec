"""`python -m tfcolor.tune`: a 2-trial random search, its best config, HParams logs; the default bayesian
search, and resuming."""
import json

import pytest
import tensorflow as tf

from tfcolor import train, tune
from tfcolor.config import run_layout

pytestmark = pytest.mark.slow
QUICK = ["--dataset", "demo", "--demo-patches", "64", "--batch-size", "8", "--epochs", "1", "--max-steps", "2",
         "--widths", "4", "8"]


def plugin_names(log_dir):
    names = set()
    for path in log_dir.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            names.update(value.metadata.plugin_data.plugin_name for value in event.summary.value)
    return names


def test_random_search_writes_best_config_that_train_accepts(tmp_path, capsys):
    directory = tmp_path / "search"
    assert tune.main([*QUICK, "--algorithm", "random", "--max-trials", "2", "--directory", str(directory)]) == 0
    out = capsys.readouterr().out
    assert "Best trial" in out and "val_accuracy" in out
    best = json.loads((directory / "best_config.json").read_text())
    trials = sorted(p.name for p in (directory / "search").glob("trial_*"))
    assert len(trials) == 2
    for trial in (directory / "tensorboard").iterdir():
        assert "hparams" in plugin_names(trial), f"no HParams data in trial {trial.name}"
    assert best["model"]["generator_filters"][0] in (4, 8)

    run_dir = tmp_path / "tuned"
    assert train.main(["--config", str(directory / "best_config.json"), "--checkpoints-path", str(run_dir),
                       "--max-steps", "1", "--sample", "0"]) == 0
    saved = run_layout.load_config(run_dir)
    assert list(saved.model.generator_filters) == best["model"]["generator_filters"]
    assert saved.train.lr == pytest.approx(best["train"]["lr"])
    assert saved.train.l1_weight == pytest.approx(best["train"]["l1_weight"])
    assert saved.train.label_smoothing == best["train"]["label_smoothing"] and saved.train.max_steps == 1


def test_the_default_bayesian_search_runs_on_a_fresh_install_and_resumes_when_interrupted(tmp_path, capsys):
    # No --algorithm: keras-tuner's BayesianOptimization, which needs scikit-learn (keras-tuner[bayesian]).
    # Stopped after one trial, the same command with more trials goes on instead of starting over.
    directory = tmp_path / "search"
    assert tune.main([*QUICK, "--max-trials", "1", "--directory", str(directory)]) == 0
    first = (directory / "search" / "trial_0" / "trial.json").read_text()
    assert tune.main([*QUICK, "--max-trials", "2", "--directory", str(directory)]) == 0
    assert "Best trial" in capsys.readouterr().out and (directory / "best_config.json").is_file()
    oracle = json.loads((directory / "search" / "oracle.json").read_text())
    assert "num_initial_points" in oracle  # the state of keras-tuner's BayesianOptimizationOracle
    assert len(list((directory / "search").glob("trial_*"))) == 2
    assert (directory / "search" / "trial_0" / "trial.json").read_text() == first


def test_max_steps_is_total_batches_per_trial_as_in_train():
    assert tune.steps_per_trial_epoch(100, 2, None) == 100
    assert tune.steps_per_trial_epoch(100, 2, 10) == 5
    assert tune.steps_per_trial_epoch(100, 3, 2) == 1  # at least one batch an epoch
    assert tune.steps_per_trial_epoch(4, 2, 50) == 4


def test_bad_config_file_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "bad.json").write_text(json.dumps({"train": {"learning_rate": 1}}))
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--config", str(tmp_path / "bad.json"), "--checkpoints-path", str(tmp_path / "r")])
    assert exit_info.value.code == 2 and "learning_rate" in capsys.readouterr().err
