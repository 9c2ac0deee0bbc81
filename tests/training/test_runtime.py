"""The training runtime: importing changes no environment; a run sets up OpenMP itself."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from training import runtime


def test_importing_the_packages_changes_no_environment_variable() -> None:
    code = (
        "import os; before = dict(os.environ); "
        "import training, training.pipeline, tarve.cli; tarve.cli.build_parser(); "
        "print(sorted(set(os.environ.items()) ^ set(before.items())))"
    )
    environment = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    completed = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "[]"


def test_a_run_makes_openmp_passive_before_lightgbm_loads_and_restores_the_environment() -> None:
    code = (
        "import os\n"
        "from training.runtime import TrainingRuntime, openmp_started\n"
        "assert not openmp_started()\n"
        "with TrainingRuntime() as run:\n"
        "    print(run.openmp_passive, os.environ['OMP_WAIT_POLICY'], openmp_started())\n"
        "print('OMP_WAIT_POLICY' in os.environ)\n"
    )
    environment = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    completed = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    assert completed.stdout.split() == ["True", "PASSIVE", "True", "False"]


def test_a_policy_the_caller_chose_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runtime.OMP_WAIT_POLICY, "ACTIVE")
    with runtime.passive_openmp() as passive:
        assert not passive
        assert os.environ[runtime.OMP_WAIT_POLICY] == "ACTIVE"
    assert os.environ[runtime.OMP_WAIT_POLICY] == "ACTIVE"


def test_background_thread_returns_its_value_and_reraises_its_error() -> None:
    assert runtime.Background(sum, [1, 2, 3], name="sum").result() == 6
    with pytest.raises(ZeroDivisionError):
        runtime.Background(divmod, 1, 0, name="divide").result()
