"""How batch scoring shares an input out (inputs.split) and types its keys (inputs.key_schema)."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workloads.scoring.errors import SchemaMismatchError
from workloads.scoring.inputs import Window, batches, key_schema, list_files, split

DAY = datetime(2026, 11, 30, tzinfo=UTC)
EVERYTHING = Window(None, DAY, DAY)


def write(path, ids: list[int], group_rows: int, id_type: pa.DataType | None = None, day: datetime = DAY) -> None:
    table = pa.table({"customer_id": pa.array(ids, id_type or pa.int64()),
                      "event_timestamp": pa.array([day] * len(ids), pa.timestamp("us", tz="UTC"))})
    pq.write_table(table, path, row_group_size=group_rows)


def layout(tasks) -> list[list[tuple[str, tuple[int, ...]]]]:
    return [[(file.path.rsplit("/", 1)[1], groups) for file, groups in task.pieces] for task in tasks]


def test_tasks_take_whole_row_groups_across_files_in_order(tmp_path):
    write(tmp_path / "a.parquet", list(range(0, 300)), 100)  # 3 groups of 100
    write(tmp_path / "b.parquet", list(range(300, 350)), 100)  # 1 group of 50
    files = list_files(str(tmp_path))
    tasks = split(files, EVERYTHING, 200)
    assert layout(tasks) == [[("a.parquet", (0, 1))], [("a.parquet", (2,)), ("b.parquet", (0,))]]
    assert [task.index for task in tasks] == [0, 1]
    # Every row once, in the input's order.
    rows = [value for task in tasks for _file, batch in batches(task, ["customer_id"], EVERYTHING, 64)
            for value in batch.column("customer_id").to_pylist()]
    assert rows == list(range(350))
    # A row group bigger than a task is a task of its own; one task holds everything when it can.
    assert layout(split(files, EVERYTHING, 50)) == [[("a.parquet", (0,))], [("a.parquet", (1,))],
                                                    [("a.parquet", (2,))], [("b.parquet", (0,))]]
    assert len(split(files, EVERYTHING, 10_000)) == 1


def test_row_groups_outside_the_window_are_not_in_any_task(tmp_path):
    write(tmp_path / "old.parquet", [1, 2], 10, day=datetime(2026, 1, 1, tzinfo=UTC))
    write(tmp_path / "new.parquet", [3, 4], 10)
    window = Window("event_timestamp", DAY, datetime(2026, 12, 1, tzinfo=UTC))
    assert layout(split(list_files(str(tmp_path)), window, 1_000)) == [[("new.parquet", (0,))]]


def test_keys_get_one_type_across_files_or_a_named_error(tmp_path):
    write(tmp_path / "a.parquet", [1], 10, pa.int32())
    write(tmp_path / "b.parquet", [2], 10, pa.int64())
    schema = key_schema(list_files(str(tmp_path)), ["customer_id", "event_timestamp"])
    assert schema.field("customer_id").type == pa.int64()
    write(tmp_path / "c.parquet", ["x"], 10, pa.string())
    with pytest.raises(SchemaMismatchError, match=r"key column 'customer_id' has types that do not meet.*c\.parquet: string"):
        key_schema(list_files(str(tmp_path)), ["customer_id"])
