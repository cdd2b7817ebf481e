"""One path: ``hybridfer tune`` calls :func:`hybridfer.tuning.tune` and only prints and writes
files; the TuneResult renders its own report."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from _helpers import tiny_config

import hybridfer.tuning.study as study_module
from hybridfer.cli import main
from hybridfer.data import make_faces
from hybridfer.predict import METADATA_ATTR
from hybridfer.tuning import tune
from hybridfer.tuning.study import TrialsFailedError, TuneResult, study_target

optuna.logging.set_verbosity(optuna.logging.WARNING)

FAST = {"logreg": {"max_iter": 200}}

CONFIG = tiny_config(n_trials=2)


@pytest.fixture(scope="module")
def faces():
    return make_faces(n_samples=60, image_size=32, random_state=0)


def test_the_cli_calls_the_library_tune(tmp_path, monkeypatch, capsys):
    calls = []
    real = study_module.tune

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append((kwargs, result))
        return result

    monkeypatch.setattr(study_module, "tune", spy)
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(CONFIG)
    assert main(["tune", str(cfg), "--no-progress"]) == 0
    assert len(calls) == 1
    kwargs, result = calls[0]
    assert kwargs["n_trials"] is None and kwargs["initial_trials"] == 2
    out = capsys.readouterr().out
    # what the CLI printed and wrote is what the result renders
    assert result.best_line() in out and result.run_line() in out
    work = tmp_path / "work"
    assert (work / "tune_summary.md").read_text() == result.to_markdown()
    summary = json.loads((work / "tune_summary.json").read_text())
    assert summary["best_trial"] == result.summary()["best_trial"]
    assert summary["best_pipeline_file"].endswith("best_pipeline.joblib")


def test_tune_result_renders_its_report_and_unpacks(faces):
    lines = []
    result = tune(
        faces,
        features="hog",
        classifiers="logreg",
        params=FAST,
        cv=2,
        n_trials=2,
        sampler="random",
        pruner="none",
        log=lines.append,
    )
    assert isinstance(result, TuneResult)
    study, best = result  # unpacks as before
    assert study is result.study and best is result.best_pipeline
    assert result[0] is study and result[1] is best
    assert (result.run.complete, result.run.failed) == (2, 0)
    assert any(line.startswith("study ") and "target 2" in line for line in lines)
    assert lines[-1] == result.run_line()
    md = result.to_markdown()
    assert md.startswith("# Study ") and "## Best trial #" in md and "## Top trials" in md
    assert result.best_line().startswith(f"best trial #{result.best_trial.number}: hog/logreg")
    frame = result.trials_frame()
    assert len(frame) == 2 and "value" in frame
    meta = getattr(best, METADATA_ATTR)
    assert meta["pipeline"] == "hog/logreg" and meta["training_data"]["n_images"] == len(faces)
    assert meta["training_data"]["name"] == faces.name
    assert set(meta["scores"]) == {"cv f1_macro"}


def test_n_trials_none_keeps_the_stored_target(faces, tmp_path):
    kw = dict(
        features="hog",
        classifiers="logreg",
        params=FAST,
        cv=2,
        storage=tmp_path / "s.db",
        study_name="s",
        refit=False,
        sampler="random",
        pruner="none",
    )
    result = tune(faces, n_trials=None, initial_trials=2, **kw)
    assert study_target(result.study) == 2 and result.counts["finished"] == 2
    result = tune(faces, n_trials=None, initial_trials=5, **kw)  # exists: target kept
    assert study_target(result.study) == 2 and result.run.complete == 0
    result = tune(faces, n_trials=None, add_trials=1, **kw)
    assert study_target(result.study) == 3 and result.counts["finished"] == 3
    with pytest.raises(ValueError, match="add_trials must be an integer >= 1"):
        tune(faces, add_trials=0, **kw)


def test_a_run_whose_trials_all_fail_raises(faces):
    kw = dict(
        features="hog",
        classifiers="logreg",
        params={"logreg": {"max_iter": 200}},
        space={"logreg": {"C": -1.0}},  # every fit fails
        cv=2,
        n_trials=2,
        pruner="none",
    )
    with pytest.raises(TrialsFailedError, match="3 trials failed in a row"):
        tune(faces, **kw)  # failed trials are replaced, until three in a row
    with pytest.raises(TrialsFailedError, match="all 1 trials of this run failed"):
        tune(faces, max_trials=1, **kw)


# ---- the worker on Optuna's public ask/tell API ----------------------------------------------


def test_ask_on_a_tickets_only_storage_never_creates_a_trial(tmp_path):
    from hybridfer.tuning.storage import NoTicketError, make_storage, tickets_only

    storage = make_storage(tmp_path / "t.db")
    study = optuna.create_study(storage=storage, study_name="t")
    study.enqueue_trial({"x": 0.5}, user_attrs={"ticket": 0})
    asking = optuna.load_study(study_name="t", storage=tickets_only(storage))
    trial = asking.ask()
    assert trial.user_attrs["ticket"] == 0 and trial.suggest_float("x", 0, 1) == 0.5
    with pytest.raises(NoTicketError):
        asking.ask()  # nothing waits: no new trial
    asking.tell(trial, 1.0)
    assert [t.state.name for t in study.get_trials()] == ["COMPLETE"]


def test_the_tuning_package_uses_no_private_optuna_trial_api():
    import hybridfer.tuning as pkg

    root = Path(pkg.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "._trial_id" not in text and "optuna.Trial(" not in text, path.name
