"""Many workers on one study in a real PostgreSQL server.

The session fixture starts a throwaway server (``initdb`` + ``pg_ctl`` from Debian's
``postgresql`` package, which ``.ci/run`` installs) on a free port of 127.0.0.1, as the
``postgres`` user when the tests run as root, and removes it afterwards. Without the server
binaries, a ``postgres`` user (as root) or psycopg2, the tests are skipped with the reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest
from _helpers import tiny_config
from optuna.trial import TrialState

from hybridfer.tuning import make_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)

REPO = Path(__file__).resolve().parents[1]


def _server_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    psycopg2 = pytest.importorskip(
        "psycopg2", reason="psycopg2 is not installed (pip install psycopg2-binary)"
    )
    bindir = _server_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's "
            "postgresql package (.ci/run does)"
        )
    prefix: list[str] = []
    owner = None
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root and runuser(1) is not available to drop privileges")
        prefix = [runuser, "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="hybridfer-pg-"))
    data, sock, log = base / "data", base / "sock", base / "server.log"
    sock.mkdir()
    if owner is not None:
        for p in (base, sock):
            os.chown(p, owner.pw_uid, owner.pw_gid)
    port = _free_port()

    def run(*cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)

    started = False
    try:
        done = run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        if done.returncode:
            pytest.skip(f"initdb failed: {done.stderr.strip()[-500:]}")
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off "
            "-c synchronous_commit=off -c max_connections=50"
        )
        done = run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "-o",
            opts,
            "start",
        )
        if done.returncode:
            tail = log.read_text()[-800:] if log.exists() else done.stderr
            pytest.skip(f"the PostgreSQL server did not start: {tail}")
        started = True
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE hybridfer_test")
        conn.close()
        yield f"postgresql://postgres@127.0.0.1:{port}/hybridfer_test"
    finally:
        if started:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def pg_config(n_trials: int) -> str:
    return tiny_config(
        n_samples=120,
        test_size=0.2,
        classifiers='["wnxgb"]',
        params="[params.wnxgb]\nn_estimators = 10\nn_jobs = 1\n",
        name=None,
        n_trials=n_trials,
        study="heartbeat_interval = 1\ngrace_period = 3\n",
    )


def worker(config: Path, url: str, study: str) -> subprocess.Popen:
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_WAIT_POLICY": "PASSIVE"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hybridfer",
            "tune",
            str(config),
            "--storage",
            url,
            "--study",
            study,
            "--no-progress",
            "--no-refit",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def worker_of(proc: subprocess.Popen) -> str:
    return f"{socket.gethostname()}:{proc.pid}"


def finish(proc: subprocess.Popen, timeout: float = 240) -> str:
    out = proc.communicate(timeout=timeout)[0]
    assert proc.returncode == 0, out
    return out


def test_two_workers_share_one_study_exactly(postgres_url, tmp_path):
    config = tmp_path / "pg.toml"
    config.write_text(pg_config(n_trials=8))
    a, b = worker(config, postgres_url, "shared"), worker(config, postgres_url, "shared")
    finish(a), finish(b)
    study = optuna.load_study(study_name="shared", storage=make_storage(postgres_url))
    trials = study.trials
    assert len(trials) == 8  # exactly the budget: no trial run twice, none extra
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.number for t in trials}) == 8
    params = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(params)) == 8  # the workers never drew the same parameters
    assert {t.user_attrs["ticket"] for t in trials} == set(range(8))
    assert {t.user_attrs["worker"] for t in trials} == {worker_of(a), worker_of(b)}


def _victim(study: optuna.Study, proc: subprocess.Popen) -> tuple[int, set[int]] | None:
    """A trial that worker ``proc`` is running, once another trial has completed."""
    done = study.get_trials(states=(TrialState.COMPLETE,))
    running = [
        t
        for t in study.get_trials(states=(TrialState.RUNNING,))
        if t.user_attrs.get("worker") == worker_of(proc)
    ]
    if not (done and running):
        return None
    return running[0].number, {t.number for t in done}


def test_killed_worker_loses_no_completed_trial(postgres_url, tmp_path):
    config = tmp_path / "pg.toml"
    config.write_text(pg_config(n_trials=6))
    # Worker A runs alone until it is caught mid-trial after a completed trial: it is frozen
    # (SIGSTOP) so that the study cannot move between the check and the kill, then killed
    # without a chance to clean up. Worker B starts afterwards and must take the killed trial
    # over through the heartbeat and finish the budget.
    a = worker(config, postgres_url, "killed")
    b = None
    storage = make_storage(postgres_url)
    victim, completed_before = None, set()
    deadline = time.monotonic() + 180
    try:
        while victim is None and time.monotonic() < deadline and a.poll() is None:
            try:
                study = optuna.load_study(study_name="killed", storage=storage)
            except KeyError:  # not created yet
                time.sleep(0.2)
                continue
            if _victim(study, a) is None:
                time.sleep(0.05)
                continue
            a.send_signal(signal.SIGSTOP)
            found = _victim(optuna.load_study(study_name="killed", storage=storage), a)
            if found is None:  # the trial ended between the two reads: let A go on
                a.send_signal(signal.SIGCONT)
                continue
            victim, completed_before = found
            a.send_signal(signal.SIGKILL)  # mid-trial: no chance to clean up
        a.wait(timeout=30)
        assert victim is not None, "worker A never ran a trial after one had completed: " + (
            a.communicate()[0] if a.poll() is not None else "still running"
        )
        assert a.returncode == -signal.SIGKILL
        b = worker(config, postgres_url, "killed")
        finish(b)
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                p.kill()
    study = optuna.load_study(study_name="killed", storage=storage)
    by_number = {t.number: t for t in study.trials}
    assert by_number[victim].state == TrialState.FAIL  # marked failed through the heartbeat
    assert all(by_number[n].state == TrialState.COMPLETE for n in completed_before)
    retry = [t for t in study.trials if t.system_attrs.get("failed_trial") == victim]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert retry[0].user_attrs["worker"] == worker_of(b)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 6  # the budget is kept
    assert len(study.trials) == 7  # 6 + the killed one
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
