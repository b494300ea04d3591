"""The connector contract of tests/unit/connectors against the fakes (mongomock, SQLite
standing in for SQL Server). Tests whose breaking or precision is backend-specific have
versions of their own in test_mongodb_fake.py and test_mssql_statements.py."""

from __future__ import annotations

from tests.unit.connectors import test_connector_contract as contract

_BACKEND_SPECIFIC = {
    "test_failed_replace_keeps_the_old_table",  # how to break a write is backend-specific
    "test_invalid_options_are_configuration_errors",  # {} is valid: every option has a default
    # MongoDB stores milliseconds: these four use microsecond edges (ms versions in the mongo tests)
    "test_timestamps_are_normalised_to_utc_microseconds",
    "test_time_window_is_inclusive_at_both_edges",
    "test_naive_and_offset_bounds_mean_the_same_instant",
    "test_key_window_and_projection_combine",
}

globals().update(
    {
        name: test
        for name, test in vars(contract).items()
        if name.startswith("test_") and callable(test) and name not in _BACKEND_SPECIFIC
    }
)
