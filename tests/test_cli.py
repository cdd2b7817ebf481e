"""The hybridfer command: tune (resumable, interruptible), ablate, evaluate, extract, demo,
and configuration errors that say what is valid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from _helpers import write_tiny_config
from optuna.trial import TrialState

from hybridfer.cli import main, run_demo
from hybridfer.tuning.config import ConfigError, load_config, parse_config

optuna.logging.set_verbosity(optuna.logging.WARNING)

REPO = Path(__file__).resolve().parents[1]


def write_config(
    tmp_path: Path,
    n_trials: int = 4,
    n_samples: int = 160,
    classifiers: str = '["svm", "logreg"]',
    extra: str = "",
) -> Path:
    return write_tiny_config(
        tmp_path,
        n_samples=n_samples,
        features='["hog", "lbp"]',
        classifiers=classifiers,
        extra=extra,
        n_trials=n_trials,
    )


def load_tiny_study(tmp_path: Path, name: str = "tiny") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / 'work/study.db'}")


def cli(*args: str) -> subprocess.Popen:
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_WAIT_POLICY": "PASSIVE"}
    return subprocess.Popen(
        [sys.executable, "-m", "hybridfer", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


# ---- tune -----------------------------------------------------------------------------------


def test_tune_completes_resumes_and_writes_results(tmp_path, capsys):
    cfg = write_config(tmp_path, n_trials=5)
    assert main(["tune", str(cfg), "--max-trials", "2", "--no-progress"]) == 0
    study = load_tiny_study(tmp_path)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 2
    assert main(["tune", str(cfg), "--no-progress"]) == 0  # continues the same study
    out = capsys.readouterr().out
    study = load_tiny_study(tmp_path)
    assert len(study.trials) == 5
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert "best trial #" in out and "f1_macro" in out
    work = tmp_path / "work"
    for name in ("best_pipeline.joblib", "tune_summary.md", "tune_summary.json", "trials.csv"):
        assert (work / name).stat().st_size > 0
    import joblib

    model = joblib.load(work / "best_pipeline.joblib")
    assert model.predict(__import__("numpy").zeros((2, 32, 32), "uint8")).shape == (2,)
    # more trials on demand, run by this or any worker
    assert main(["tune", str(cfg), "--add-trials", "1", "--no-progress", "--no-refit"]) == 0
    assert len(load_tiny_study(tmp_path).trials) == 6


def test_tune_interrupted_then_rerun_adds_up(tmp_path):
    # trials slow enough to be caught mid-way: boosted trees on every fold
    cfg = write_config(
        tmp_path,
        n_trials=4,
        n_samples=120,
        classifiers='["wnxgb"]',
        extra="[space.wnxgb]\nn_estimators = 20\nn_jobs = 1\n",
    )
    proc = cli("tune", str(cfg), "--no-progress", "--no-refit")
    db = tmp_path / "work/study.db"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                study = load_tiny_study(tmp_path)
                done = study.get_trials(states=(TrialState.COMPLETE,))
                if done and study.get_trials(states=(TrialState.RUNNING,)):
                    break
            except (KeyError, Exception):  # study not created yet / db being written
                pass
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, out
    assert "rerun the same command to continue" in out
    study = load_tiny_study(tmp_path)
    before = {t.number for t in study.get_trials(states=(TrialState.COMPLETE,))}
    assert 1 <= len(before) < 4
    # the interrupted trial failed and was queued again (or, if the signal landed where Python
    # ignores it, the worker finished that trial and stopped before the next)
    failed = len(study.get_trials(states=(TrialState.FAIL,)))
    assert failed <= 1
    assert not study.get_trials(states=(TrialState.RUNNING,))
    proc = cli("tune", str(cfg), "--no-progress", "--no-refit")
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out
    study = load_tiny_study(tmp_path)
    complete = {t.number for t in study.get_trials(states=(TrialState.COMPLETE,))}
    assert len(complete) == 4 and before <= complete  # nothing lost, budget kept
    assert len(study.trials) == 4 + failed
    assert not study.get_trials(states=(TrialState.WAITING,))


# ---- config errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[study]\nnam = 'x'\n", r"unknown key\(s\) \['nam'\] in \[study\]; valid keys are"),
        ("[pipline]\nfeatures = ['hog']\n", r"unknown table\(s\) \['pipline'\]; valid tables"),
        ("[pipeline]\nfeatures = ['hogg']\n", r"unknown feature component 'hogg'.*'resnet50'"),
        ("[pipeline]\nclassifiers = ['svc']\n", r"unknown classifier 'svc'.*'wnxgb'"),
        ("[params.svc]\nC = 1\n", r"\[params.svc\]: unknown component 'svc'; valid names"),
        ("[cv]\nn_splits = 'five'\n", r"cv.n_splits must be an integer"),
        ("[study]\nmetric = 'f1_makro'\n", r"unknown scorer 'f1_makro'.*f1_macro"),
        ("[study]\npruner = 'sha'\n", r"study.pruner = 'sha' is not valid.*'median'"),
        ("[data]\nsource = 'fer'\n", r"data.source = 'fer' is not valid.*'fer2013'"),
        ("[ablation]\nbaseline = 'hog/rf'\n", r"not a pair of the grid"),
    ],
)
def test_config_errors_name_the_key_and_the_valid_choices(tmp_path, extra, message):
    path = tmp_path / "bad.toml"
    path.write_text(extra)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_config_errors_exit_cleanly(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("[params.svm]\ngama = 0.1\n")
    assert main(["tune", str(path), "--workdir", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err
    assert "no parameter(s) ['gama']" in err and "valid parameters are" in err and "'gamma'" in err
    path.write_text("[study\n")
    assert main(["ablate", str(path)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_config_paths_and_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TEST_ROOT", str(tmp_path / "data"))
    cfg = parse_config(
        {
            "data": {"source": "folder", "path": "${HF_TEST_ROOT}/faces"},
            "study": {"storage": "runs.log"},
            "output": {"workdir": "out"},
        },
        base_dir=tmp_path,
    )
    assert cfg.workdir == tmp_path / "out"
    assert cfg.storage_url() == os.fspath(tmp_path / "out/runs.log")
    assert cfg.cache_path() == tmp_path / "out/feature-cache"
    url = "postgresql://u:pw@127.0.0.1:5432/db"
    assert parse_config({"study": {"storage": url}}).storage_url() == url
    with pytest.raises(ConfigError, match="data.path is required"):
        parse_config({"data": {"source": "fer2013"}})


# ---- ablate, evaluate, extract ----------------------------------------------------------------


def test_ablate_prints_and_writes_the_table(tmp_path, capsys):
    cfg = write_config(tmp_path, extra='[ablation]\nbaseline = "hog/svm"\n')
    assert main(["ablate", str(cfg), "--no-progress"]) == 0
    out = capsys.readouterr().out
    for pair in ("| hog | svm |", "| hog | logreg |", "| lbp | svm |", "| lbp | logreg |"):
        assert pair in out
    assert "baseline" in out and "Δ macro-F1" in out
    work = tmp_path / "work"
    lines = (work / "ablation.csv").read_text().splitlines()
    assert len(lines) == 5 and "d_f1_macro_mean" in lines[0]
    folds = (work / "ablation_folds.csv").read_text().splitlines()
    assert len(folds) == 1 + 4 * 3
    assert (work / "ablation.png").read_bytes()[:4] == b"\x89PNG"
    # the ablation is a study too: a rerun reads it back, a changed one is refused
    assert main(["ablate", str(cfg), "--no-progress"]) == 0
    assert capsys.readouterr().out.count("| hog | svm |") == 1
    assert len(load_tiny_study(tmp_path, "tiny-ablation").trials) == 4
    assert main(["ablate", str(cfg), "--no-progress", "--test"]) == 2
    assert "different settings" in capsys.readouterr().err
    assert main(["ablate", str(cfg), "--no-progress", "--test", "--study", "with-test"]) == 0
    assert "test macro-F1" in capsys.readouterr().out


def test_evaluate_reports_on_the_test_split(tmp_path, capsys):
    cfg = write_config(tmp_path, n_trials=2)
    assert main(["evaluate", str(cfg), "--no-audit"]) == 2
    assert "run `hybridfer tune` first" in capsys.readouterr().err
    assert main(["tune", str(cfg), "--no-progress", "--no-refit"]) == 0
    assert main(["evaluate", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "macro avg" in out and "leakage audit" in out
    ev = tmp_path / "work/evaluate"
    assert (ev / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert "| happy" in (ev / "report.md").read_text()
    assert (ev / "leakage.md").exists() and (ev / "confusion.csv").exists()
    assert main(["evaluate", str(cfg), "--pair", "lbp/logreg", "--no-audit"]) == 0
    assert "pair lbp/logreg" in capsys.readouterr().out
    assert main(["evaluate", str(cfg), "--pair", "lbp/forest", "--no-audit"]) == 2
    assert "unknown classifier 'forest'" in capsys.readouterr().err


def test_extract_fills_the_feature_cache(tmp_path, capsys):
    from hybridfer.cache import FeatureCache

    cfg = write_config(
        tmp_path,
        extra='[params.resnet50]\nweights = "None"\ninput_size = 32\nrandom_state = 0\n'
        'device = "cpu"\npooling = "avg"\n',
    )
    assert main(["extract", str(cfg), "--features", "resnet50+hog"]) == 0
    out = capsys.readouterr().out
    assert "resnet50: 160 images x 3840 features in the cache" in out
    keys = FeatureCache(tmp_path / "work/feature-cache").info()["keys"]
    assert [k["images"] for k in keys] == [160]
    assert "ResNet50" in keys[0]["key"]["transformer"]


def test_components_lists_the_registry(capsys):
    assert main(["components"]) == 0
    out = capsys.readouterr().out
    for name in ("resnet50", "hog", "wnxgb", "svm", "lgbm"):
        assert name in out
    assert "C: float in [0.01, 100.0], log" in out


def test_demo_runs_end_to_end_small(tmp_path, capsys):
    result = run_demo(tmp_path / "demo", n_samples=140, n_trials=3, progress=False)
    out = capsys.readouterr().out
    assert "| hog+lbp | svm |" in out and "best trial #" in out and "macro avg" in out
    assert len(result["ablation"].pairs) == 6
    assert result["tune"]["counts"]["finished"] == 3
    assert (tmp_path / "demo/evaluate/confusion.png").exists()
