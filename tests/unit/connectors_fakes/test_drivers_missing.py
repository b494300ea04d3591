"""Without its driver a connector fails with an install hint, not an ImportError."""

from __future__ import annotations

import sys

import pytest

from potluck.connectors import ReadRequest, open_connector
from potluck.connectors.spark.session import import_pyspark
from potluck.errors import DriverMissingError


@pytest.mark.parametrize(
    ("kind", "module", "options", "hint"),
    [
        ("mongodb", "pymongo", {}, "pip install 'potluck[mongodb]'"),
        ("mssql", "pyodbc", {}, "apt-get install unixodbc tdsodbc"),
        ("spark", "pyspark", {"root": "/nonexistent"}, "pip install 'potluck[spark]'"),
    ],
)
def test_missing_driver_names_what_to_install(
    kind: str, module: str, options: dict[str, str], hint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = open_connector("demo", kind, options)  # building needs no driver
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    with pytest.raises(DriverMissingError) as raised:
        connector.read(ReadRequest("t"))
    assert raised.value.package == module
    assert hint in raised.value.message


def test_import_pyspark_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(DriverMissingError, match=r"potluck\[spark\]"):
        import_pyspark()
