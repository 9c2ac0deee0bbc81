"""Reading extract files: CSV text kept raw, Parquet, and every unreadable case named."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from models.extract.reading import (
    MSG_EMPTY_FILE,
    MSG_NOT_FOUND,
    MSG_RAGGED_ROWS,
    MSG_UNSUPPORTED_FORMAT,
    MSG_WRONG_SEPARATOR,
)
from models.extract.validation import (
    ExtractReadError,
    read_extract,
)
from models.schema import Schema
from tests.support.sample_extracts import (
    IDENTITY_CODE,
)

# -- reading files ---------------------------------------------------------------------


def test_read_extract_keeps_csv_text_raw(schema: Schema, tmp_path: Path) -> None:
    path = tmp_path / "extract.csv"
    path.write_text("client_ref,age,note\nc1,007,NA\nc2,,null\n", encoding="utf-8")
    frame = read_extract(path)
    assert list(frame.columns) == ["client_ref", "age", "note"]
    assert frame.to_dict("list") == {
        "client_ref": ["c1", "c2"],
        "age": ["007", ""],
        "note": ["NA", "null"],
    }


def test_read_extract_unsupported_type(tmp_path: Path) -> None:
    path = tmp_path / "extract.xlsx"
    path.write_bytes(b"")
    with pytest.raises(ExtractReadError) as caught:
        read_extract(path)
    assert str(caught.value) == MSG_UNSUPPORTED_FORMAT.format(path=path, suffix=".xlsx")


def test_read_extract_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    with pytest.raises(ExtractReadError, match=r"nowhere\.csv") as caught:
        read_extract(path)
    assert str(caught.value) == MSG_NOT_FOUND.format(path=path)


def test_read_extract_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ExtractReadError) as caught:
        read_extract(path)
    assert str(caught.value) == MSG_EMPTY_FILE.format(path=path)


def test_read_extract_refuses_ragged_rows(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(f"a,b,c\n1,2,3\n4,5\n6,7,8\n{IDENTITY_CODE},9,10,11\n", encoding="utf-8")
    with pytest.raises(ExtractReadError) as caught:
        read_extract(path)
    assert str(caught.value) == MSG_RAGGED_ROWS.format(path=path, count=2, lines="3, 5")
    assert IDENTITY_CODE not in str(caught.value)


def test_read_extract_semicolon_separated(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("client_ref;age\r\nc1;30\r\n", encoding="utf-8")
    with pytest.raises(ExtractReadError) as caught:
        read_extract(path)
    assert str(caught.value) == MSG_WRONG_SEPARATOR.format(path=path, separator=";")


def test_read_extract_windows_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "crlf.csv"
    path.write_bytes(b"client_ref,age\r\nc1,30\r\nc2,\r\n")
    assert read_extract(path).to_dict("list") == {"client_ref": ["c1", "c2"], "age": ["30", ""]}


def test_read_extract_header_only(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("client_ref,age\n", encoding="utf-8")
    frame = read_extract(path)
    assert list(frame.columns) == ["client_ref", "age"]
    assert len(frame) == 0


def test_read_extract_gzip_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "extract.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8-sig") as handle:
        handle.write('client_ref,note\nc1,"two\nlines"\nc2,NA\n')
    frame = read_extract(path)
    assert frame.to_dict("list") == {"client_ref": ["c1", "c2"], "note": ["two\nlines", "NA"]}


@pytest.mark.parametrize("name", ["fake.parquet", "latin1.csv"])
def test_read_extract_unreadable_content(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(
        b"client_ref,kotikunta\nc1,J\xe4rvenp\xe4\n" if name.endswith("csv") else b"xx"
    )
    with pytest.raises(ExtractReadError, match=re.escape(name)):
        read_extract(path)
