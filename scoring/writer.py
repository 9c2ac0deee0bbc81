"""Write the output in parts, resumably, and publish it atomically.

Each finished chunk is written to ``<out>.parts/part-<chunk>.arrow`` (an Arrow IPC
file, LZ4-compressed: a fraction of what a Parquet part costs to write and read; the
Dask path writes Parquet parts, which become its output dataset) under a temporary
name, then renamed, so a part exists only when complete, with its counts next to it.
A manifest names the run (extract fingerprint, model, options): a rerun with
``--resume`` and the same manifest keeps the finished parts and scores only the rest.
At the end the parts are joined into ``<out>.tmp-<pid>`` and renamed to ``<out>``: the
output path never holds a half-written file, and Ctrl-C leaves at most the parts
directory behind.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import csv as pa_csv

from scoring.output import OUTPUT_SCHEMA, text_columns
from scoring.summary import ServiceCounts

MANIFEST = "manifest.json"
PARTS_SUFFIX = ".parts"
PART_COMPRESSION = "lz4"  # parts are read once more: fast to write and read
PART_FORMATS = {"arrow": ".arrow", "parquet": ".parquet"}
OUTPUT_COMPRESSION = "zstd"


def dictionary_paths(schema: pa.Schema) -> list[str]:
    """Return the Parquet column paths worth dictionary-encoding: text, not numbers.

    Numbers are nearly all distinct: trying a dictionary for them costs time and space.
    """
    paths: list[str] = []

    def walk(path: str, kind: pa.DataType) -> None:
        if pa.types.is_dictionary(kind) or pa.types.is_string(kind):
            paths.append(path)
        elif pa.types.is_list(kind):
            walk(f"{path}.list.element", kind.value_type)
        elif pa.types.is_struct(kind):
            for child in kind:
                walk(f"{path}.{child.name}", child.type)

    for column in schema:
        walk(column.name, column.type)
    return paths


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    temporary = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    temporary.write_text(text, "utf-8")
    os.replace(temporary, path)


def output_format(path: Path) -> str:
    """``"parquet"`` or ``"csv"`` by the output's name (a directory name means parquet)."""
    return "csv" if path.name.lower().endswith(".csv") else "parquet"


class PartWriter:
    """The parts of one run.

    Parameters
    ----------
    out : pathlib.Path
        The final output file.
    run_key : dict
        What identifies the run (a resume is allowed only with the same key).
    resume : bool
        Keep finished parts of an earlier run with the same key.
    part_format : {"arrow", "parquet"}
        Arrow IPC parts (joined into the output at the end) or Parquet parts (the Dask
        path's dataset files).
    """

    def __init__(
        self, out: Path, *, run_key: dict[str, Any], resume: bool, part_format: str = "arrow"
    ) -> None:
        self.out = out
        self.suffix = PART_FORMATS[part_format]
        self.directory = out.with_name(out.name + PARTS_SUFFIX)
        self.run_key = run_key
        manifest = self.directory / MANIFEST
        same_run = (
            resume
            and manifest.is_file()
            and json.loads(manifest.read_text("utf-8")).get("run") == run_key
        )
        if not same_run and self.directory.exists():
            shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(manifest, json.dumps({"run": run_key}, indent=1, sort_keys=True))
        self.resumed = sorted(self._finished()) if same_run else []

    @classmethod
    def attach(cls, directory: Path) -> PartWriter:
        """Open the parts directory of a running job, as a worker (nothing is removed)."""
        writer = cls.__new__(cls)
        writer.directory = directory
        writer.suffix = PART_FORMATS["parquet"]
        writer.resumed = []
        return writer

    def _part(self, index: int) -> Path:
        return self.directory / f"part-{index:06d}{self.suffix}"

    def _counts_path(self, index: int) -> Path:
        return self.directory / f"part-{index:06d}.counts.json"

    def _finished(self) -> set[int]:
        done = set()
        for path in self.directory.glob(f"part-*{self.suffix}"):
            index = int(path.name[len("part-") :].split(".")[0])
            if self._counts_path(index).is_file():
                done.add(index)
        return done

    def is_done(self, index: int) -> bool:
        """Whether chunk ``index`` was finished by an earlier run."""
        return self._part(index).is_file() and self._counts_path(index).is_file()

    def counts(self, index: int) -> dict[str, ServiceCounts]:
        """Read the per-service counts stored with a finished part."""
        raw = json.loads(self._counts_path(index).read_text("utf-8"))
        return {name: ServiceCounts.model_validate(value) for name, value in raw.items()}

    def write(self, index: int, table: pa.Table, counts: dict[str, ServiceCounts]) -> None:
        """Write one finished chunk (part first, then its counts: the counts mark it done)."""
        part = self._part(index)
        temporary = part.with_name(part.name + ".tmp")
        if self.suffix == PART_FORMATS["parquet"]:
            pq.write_table(
                table,
                temporary,
                compression=PART_COMPRESSION,
                use_dictionary=dictionary_paths(table.schema),
            )
        else:
            options = pa.ipc.IpcWriteOptions(compression=PART_COMPRESSION)
            with (
                pa.OSFile(str(temporary), "wb") as sink,
                pa.ipc.new_file(sink, table.schema, options=options) as ipc,
            ):
                ipc.write_table(table)
        os.replace(temporary, part)
        atomic_write_text(
            self._counts_path(index),
            json.dumps({name: value.model_dump() for name, value in counts.items()}),
        )

    def read_part(self, index: int) -> pa.Table:
        """Read a finished part."""
        path = self._part(index)
        if self.suffix == PART_FORMATS["parquet"]:
            return pq.read_table(path, schema=OUTPUT_SCHEMA)
        with pa.OSFile(str(path), "rb") as source:
            return pa.ipc.open_file(source).read_all()

    def finish(self, chunks: int) -> int:
        """Join parts ``0 .. chunks-1`` into the output, atomically; returns its rows."""
        temporary = self.out.with_name(f"{self.out.name}.tmp-{os.getpid()}")
        rows = 0
        try:
            if output_format(self.out) == "csv":
                rows = self._join_csv(temporary, chunks)
            else:
                with pq.ParquetWriter(
                    temporary,
                    OUTPUT_SCHEMA,
                    compression=OUTPUT_COMPRESSION,
                    use_dictionary=dictionary_paths(OUTPUT_SCHEMA),
                ) as writer:
                    for index in range(chunks):
                        table = self.read_part(index)
                        writer.write_table(table)
                        rows += table.num_rows
            os.replace(temporary, self.out)
        finally:
            temporary.unlink(missing_ok=True)
        shutil.rmtree(self.directory, ignore_errors=True)
        return rows

    def _join_csv(self, temporary: Path, chunks: int) -> int:
        rows = 0
        with open(temporary, "wb") as handle:
            for index in range(chunks):
                table = text_columns(self.read_part(index))
                options = pa_csv.WriteOptions(include_header=index == 0)
                pa_csv.write_csv(table, handle, write_options=options)
                rows += table.num_rows
        return rows
