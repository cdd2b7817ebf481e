"""The hybridfer command fails cleanly: one line on stderr naming the input, exit status 2,
no traceback (unless --debug); trial counts with plain semantics; study housekeeping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
from _helpers import one_error_line, tiny_config
from PIL import Image

from hybridfer.cli import main
from hybridfer.tuning import make_storage, open_study
from hybridfer.tuning.study import STUDY_ATTR, study_target

optuna.logging.set_verbosity(optuna.logging.WARNING)

REPO = Path(__file__).resolve().parents[1]

SYNTHETIC = 'source = "synthetic"\nn_samples = 90\nimage_size = 32\ntest_size = 0.25'


def config(tmp_path: Path, data: str = SYNTHETIC, extra: str = "", n_splits: int = 3) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(tiny_config(data=data, extra=extra, n_splits=n_splits))
    return path


def faces_folder(root: Path, classes=("happy", "sad"), n: int = 10) -> Path:
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(
                root / c / f"{i}.png"
            )
    return root


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--n-trials", "-3"], "argument --n-trials: expected an integer >= 1, got '-3'"),
        (["--n-trials", "0"], "argument --n-trials: expected an integer >= 1, got '0'"),
        (["--add-trials", "-1"], "argument --add-trials: expected an integer >= 1, got '-1'"),
        (["--add-trials", "2", "--n-trials", "3"], "not allowed with argument"),
        (["--max-trials", "x"], "argument --max-trials: expected an integer >= 1, got 'x'"),
        (["--timeout", "-1"], "argument --timeout: expected a number of seconds > 0"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_bad_flags_are_usage_errors(tmp_path, capsys, flags, expected):
    assert main(["tune", str(config(tmp_path)), *flags]) == 2
    line = one_error_line(capsys)
    assert line.startswith(("hybridfer tune: error: ", "hybridfer: error: ")) and expected in line
    assert not (tmp_path / "work").exists()  # nothing ran


def test_user_errors_name_the_input(tmp_path, capsys):
    cfg = config(tmp_path)
    (tmp_path / "afile").write_text("x")
    cases = [
        (["tune", str(cfg), "--workdir", str(tmp_path / "afile")], "--workdir", "is a file"),
        (["tune", str(cfg), "--storage", str(tmp_path / "s.txt")], "s.txt", "known suffix"),
        (
            ["evaluate", str(cfg), "--pipeline", str(tmp_path / "none.joblib")],
            "none.joblib",
            "no such file",
        ),
        (["studies", "--storage", str(tmp_path / "none.db")], "none.db", "no such file"),
        (["tune", str(tmp_path / "none.toml")], "none.toml", "does not exist"),
    ]
    for argv, name, expected in cases:
        assert main(argv) == 2, argv
        line = one_error_line(capsys)
        assert name in line and expected in line, line


def test_corrupt_pipeline_file(tmp_path, capsys):
    cfg = config(tmp_path)
    bad = tmp_path / "bad.joblib"
    bad.write_bytes(bytes(range(256)) * 3)
    assert main(["evaluate", str(cfg), "--pipeline", str(bad)]) == 2
    line = one_error_line(capsys)
    assert "bad.joblib" in line and "not a pipeline saved by hybridfer" in line
    import joblib

    joblib.dump({"not": "a model"}, bad)
    assert main(["evaluate", str(cfg), "--pipeline", str(bad)]) == 2
    assert "holds a dict, not a pipeline" in one_error_line(capsys)


def test_parameters_are_validated_by_the_estimator_at_load(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[params.logreg]\nmax_iter = "many"\n')
    assert main(["tune", str(path)]) == 2
    line = one_error_line(capsys)
    assert str(path) in line and "[params.logreg]" in line
    assert "'max_iter' parameter of LogisticRegression must be an int" in line
    path.write_text("[space.svm]\nC = {low = -1.0, high = 10.0}\n")
    assert main(["ablate", str(path)]) == 2
    assert "'C' parameter" in one_error_line(capsys)


def test_folds_that_cannot_be_made(tmp_path, capsys):
    cfg = config(tmp_path, n_splits=30)
    assert main(["tune", str(cfg), "--no-progress"]) == 2
    line = one_error_line(capsys)
    assert "cv.n_splits = 30 needs at least 30 training images of every class" in line


def test_corrupt_image_and_single_class_folders(tmp_path, capsys):
    root = faces_folder(tmp_path / "faces")
    (root / "sad" / "broken.png").write_bytes(b"not an image")
    cfg = config(tmp_path, data=f'source = "folder"\npath = "{root}"\ntest_size = 0.25')
    assert main(["tune", str(cfg), "--no-progress"]) == 2
    line = one_error_line(capsys)
    assert "data.path" in line and "broken.png" in line
    one = faces_folder(tmp_path / "one", classes=("happy",))
    cfg = config(tmp_path, data=f'source = "folder"\npath = "{one}"\ntest_size = 0.25')
    assert main(["tune", str(cfg), "--no-progress"]) == 2
    line = one_error_line(capsys)
    assert str(one) in line and "1 class (only 'happy')" in line and "at least two" in line


def test_every_trial_failing_exits_non_zero(tmp_path, capsys):
    cfg = config(tmp_path, extra="[params.hog]\npixels_per_cell = [64, 64]\n")
    assert main(["tune", str(cfg), "--no-progress", "--max-trials", "1"]) == 1
    err = capsys.readouterr().err
    assert "hybridfer tune: error: all 1 trials of this run failed" in err
    assert "too small for HOGFeatures" in err and "Traceback" not in err
    assert main(["tune", str(cfg), "--no-progress"]) == 1
    assert "3 trials failed in a row" in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path, capsys):
    cfg = config(tmp_path)
    argv = ["evaluate", str(cfg), "--pipeline", str(tmp_path / "none.joblib")]
    assert main([*argv, "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("hybridfer evaluate")


def test_a_real_process_prints_one_line(tmp_path):
    cfg = config(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "hybridfer", "tune", str(cfg), "--storage", "x.json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip().splitlines() == [done.stderr.strip()]
        and "storage 'x.json'" in done.stderr
    )


# ---- trial counts ---------------------------------------------------------------------------


def test_trial_counts_set_and_raise_the_stored_target(tmp_path, capsys):
    cfg = config(tmp_path)
    db = f"sqlite:///{tmp_path / 'work/study.db'}"
    run = ["tune", str(cfg), "--no-progress", "--no-refit"]
    assert main([*run, "--n-trials", "1"]) == 0  # created with target 1
    study = optuna.load_study(study_name="tiny", storage=db)
    assert study_target(study) == 1 and len(study.trials) == 1
    assert main(run) == 0  # without a flag: the stored target, nothing to do
    assert len(optuna.load_study(study_name="tiny", storage=db).trials) == 1
    assert main([*run, "--add-trials", "2"]) == 0
    study = optuna.load_study(study_name="tiny", storage=db)
    assert study_target(study) == 3 and len(study.trials) == 3
    assert main([*run, "--n-trials", "4"]) == 0
    assert len(optuna.load_study(study_name="tiny", storage=db).trials) == 4
    assert main([*run, "--n-trials", "2"]) == 0  # lowered: nothing runs, stored
    study = optuna.load_study(study_name="tiny", storage=db)
    assert study_target(study) == 2 and len(study.trials) == 4
    assert "the study's target is now 2" in capsys.readouterr().out


# ---- study housekeeping ----------------------------------------------------------------------


def test_studies_lists_and_deletes(tmp_path, capsys):
    cfg = config(tmp_path)
    assert main(["tune", str(cfg), "--no-progress", "--no-refit", "--n-trials", "1"]) == 0
    db = str(tmp_path / "work/study.db")
    capsys.readouterr()
    assert main(["studies", "--storage", db]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "study",
        "kind",
        "target",
        "complete",
        "pruned",
        "fail",
        "running",
        "waiting",
    ]
    assert out[1].split() == ["tiny", "tune", "1", "1", "0", "0", "0", "0"]
    assert main(["studies", "delete", "other", "--storage", db]) == 2
    assert "no study 'other'" in one_error_line(capsys)
    assert main(["studies", "delete", "tiny", "--storage", db]) == 0
    assert "deleted study 'tiny' (1 trials)" in capsys.readouterr().out
    assert main(["studies", "--storage", db]) == 0
    assert "no study in" in capsys.readouterr().out


def test_a_half_created_study_is_repaired(tmp_path):
    storage = make_storage(tmp_path / "s.db")
    # a creator killed after queueing 2 of its 4 tickets, before marking the study set up
    study = optuna.create_study(study_name="half", storage=storage, direction="maximize")
    for i in range(2):
        study.enqueue_trial({}, user_attrs={"ticket": i})
    study = open_study(storage, "half", spec={"kind": "test"}, tickets=[{}] * 4, wait=0)
    assert study.user_attrs[STUDY_ATTR]["n_trials"] == 4
    assert sorted(t.user_attrs["ticket"] for t in study.trials) == [0, 1, 2, 3]


def test_a_foreign_study_is_named_with_the_delete_command(tmp_path, capsys):
    cfg = config(tmp_path)
    db = tmp_path / "work/study.db"
    study = optuna.create_study(study_name="tiny", storage=make_storage(db))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert main(["tune", str(cfg), "--no-progress"]) == 2
    line = one_error_line(capsys)
    assert "was not set up by hybridfer" in line
    assert f"hybridfer studies delete tiny --storage {db}" in line
