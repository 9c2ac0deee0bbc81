"""``tarve score --dask``: the same output as the local path, row for row; resume after Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from models.drift import load_drift_policy
from scoring import ScoreOptions, open_model, score_extract
from scoring.on_dask import score_on_dask


@pytest.mark.timeout(300)
def test_local_cluster_matches_the_local_path_row_for_row(
    trained_model_dir: Path, extract_frame: pd.DataFrame, tmp_path: Path
) -> None:
    from distributed import Client, LocalCluster

    data = tmp_path / "caseload.parquet"
    # Several row groups: one Dask partition each.
    pq.write_table(pq.read_table(_synth_file(extract_frame, tmp_path)), data, row_group_size=300)
    options = ScoreOptions(reasons=2, lang="sv")
    handle = open_model(trained_model_dir)
    local = tmp_path / "local.parquet"
    score_extract(data, handle, local, options=options)
    out = tmp_path / "dask_out"
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        summary = score_on_dask(
            data,
            handle,
            out,
            address="local",
            options=options,
            policy=load_drift_policy(),
            client=client,
        )
    assert summary.backend == "dask"
    assert summary.chunks == 4
    assert sorted(path.name for path in out.iterdir())[0] == "part-000000.parquet"
    on_dask = pq.read_table(out).to_pandas()
    expected = pq.read_table(local).to_pandas()
    for frame in (on_dask, expected):
        for name in frame.columns:
            if isinstance(frame[name].dtype, pd.CategoricalDtype):
                frame[name] = frame[name].astype(object)
    pd.testing.assert_frame_equal(on_dask, expected)
    assert (tmp_path / "dask_out.summary.json").is_file()


def _synth_file(frame: pd.DataFrame, tmp_path: Path) -> Path:
    from training.synth import write_register

    return write_register(frame, tmp_path / "one_group.parquet")


@pytest.mark.timeout(300)
def test_an_interrupted_dask_run_resumes_from_the_finished_partitions(
    trained_model_dir: Path, extract_frame: pd.DataFrame, tmp_path: Path
) -> None:
    import os
    import signal
    import threading

    from distributed import Client, LocalCluster

    data = tmp_path / "caseload.parquet"
    pq.write_table(pq.read_table(_synth_file(extract_frame, tmp_path)), data, row_group_size=150)
    partitions = pq.ParquetFile(data).metadata.num_row_groups
    assert partitions == 8
    options = ScoreOptions(reasons=2, lang="en")
    handle = open_model(trained_model_dir)
    local = tmp_path / "local.parquet"
    score_extract(data, handle, local, options=options)
    out = tmp_path / "dask_out"
    parts = tmp_path / "dask_out.parts"
    stop = threading.Event()

    def press_ctrl_c_after_the_first_part() -> None:
        while not stop.wait(0.005):
            if any(parts.glob("part-*.counts.json")):
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C
                return

    # One worker scores the partitions one after another: Ctrl-C lands between them.
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        watcher = threading.Thread(target=press_ctrl_c_after_the_first_part, daemon=True)
        watcher.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                score_on_dask(
                    data,
                    handle,
                    out,
                    address="local",
                    options=options,
                    policy=load_drift_policy(),
                    client=client,
                )
        finally:
            stop.set()
            watcher.join()
    assert not out.exists()
    # A part is finished once its counts are written (the part is renamed into place first).
    finished = {
        name: (parts / name).stat().st_ino
        for name in (
            path.name.replace(".counts.json", ".parquet")
            for path in parts.glob("part-*.counts.json")
        )
    }
    assert 1 <= len(finished) < partitions

    options = ScoreOptions(reasons=2, lang="en", resume=True)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        summary = score_on_dask(
            data,
            handle,
            out,
            address="local",
            options=options,
            policy=load_drift_policy(),
            client=client,
        )
    assert summary.chunks == partitions
    assert summary.chunks_resumed == len(finished)
    # The finished partitions were kept as they were (the same files), not scored again.
    for name, inode in finished.items():
        assert (out / name).stat().st_ino == inode
    assert not parts.exists()
    on_dask = pq.read_table(out).to_pandas()
    expected = pq.read_table(local).to_pandas()
    for frame in (on_dask, expected):
        for name in frame.columns:
            if isinstance(frame[name].dtype, pd.CategoricalDtype):
                frame[name] = frame[name].astype(object)
    pd.testing.assert_frame_equal(on_dask, expected)
