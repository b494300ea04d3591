"""``PotluckSource``: a Feast data source that names a logical source, not a system.

A feature view declared over ``PotluckSource(source="clinical_measurements")``
does not know whether the rows live in SQLite, PostgreSQL or S3: the active
profile binds each logical source to a connector in the offline store config.
That is what lets one set of feature definitions run unchanged on embedded
defaults and on real servers.

The source survives a registry round-trip through Feast's ``CUSTOM_SOURCE``
proto: its own options travel as JSON in ``custom_options.configuration``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from feast.data_source import DataSource
from feast.protos.feast.core.DataSource_pb2 import DataSource as DataSourceProto
from feast.repo_config import RepoConfig
from feast.value_type import ValueType

__all__ = ["PotluckSource", "arrow_type_to_value_type"]

_CLASS_PATH = "potluck.offline.source.PotluckSource"

_ARROW_TO_VALUE_TYPE: dict[str, ValueType] = {
    "string": ValueType.STRING,
    "large_string": ValueType.STRING,
    "int64": ValueType.INT64,
    "int32": ValueType.INT32,
    "int16": ValueType.INT32,
    "int8": ValueType.INT32,
    "double": ValueType.DOUBLE,
    "float": ValueType.FLOAT,
    "bool": ValueType.BOOL,
    "binary": ValueType.BYTES,
}


def arrow_type_to_value_type(arrow_type: str) -> ValueType:
    """Map an Arrow type string (as ``str(pa.DataType)``) to a Feast value type."""
    if arrow_type.startswith("timestamp"):
        return ValueType.UNIX_TIMESTAMP
    return _ARROW_TO_VALUE_TYPE.get(arrow_type, ValueType.UNKNOWN)


class PotluckSource(DataSource):
    """A batch source resolved through the profile's connector bindings.

    Args:
        name: unique name of this data source in the project.
        source: the logical source it reads (a key of the offline store's
            ``sources``); defaults to ``name``.
        table: the table / collection / file inside that source's connector;
            defaults to ``source``.
    """

    def __init__(
        self,
        *,
        name: str,
        source: str | None = None,
        table: str | None = None,
        timestamp_field: str = "",
        created_timestamp_column: str = "",
        field_mapping: dict[str, str] | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        owner: str = "",
    ) -> None:
        self.source = source or name
        self.table = table or self.source
        super().__init__(
            name=name,
            timestamp_field=timestamp_field,
            created_timestamp_column=created_timestamp_column,
            field_mapping=field_mapping,
            description=description,
            tags=tags,
            owner=owner,
        )

    def __hash__(self) -> int:
        return super().__hash__()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PotluckSource):
            return False
        return (
            super().__eq__(other)
            and self.source == other.source
            and self.table == other.table
            and self.timestamp_field == other.timestamp_field
            and self.created_timestamp_column == other.created_timestamp_column
            and self.field_mapping == other.field_mapping
        )

    def source_type(self) -> DataSourceProto.SourceType.ValueType:
        return DataSourceProto.CUSTOM_SOURCE

    @staticmethod
    def from_proto(data_source: DataSourceProto) -> PotluckSource:
        options = json.loads(data_source.custom_options.configuration or b"{}")
        return PotluckSource(
            name=data_source.name,
            source=options.get("source"),
            table=options.get("table"),
            timestamp_field=data_source.timestamp_field,
            created_timestamp_column=data_source.created_timestamp_column,
            field_mapping=dict(data_source.field_mapping),
            description=data_source.description,
            tags=dict(data_source.tags),
            owner=data_source.owner,
        )

    def _to_proto_impl(self) -> DataSourceProto:
        configuration = json.dumps({"source": self.source, "table": self.table}).encode()
        proto = DataSourceProto(
            name=self.name,
            type=DataSourceProto.CUSTOM_SOURCE,
            data_source_class_type=_CLASS_PATH,
            field_mapping=self.field_mapping,
            custom_options=DataSourceProto.CustomSourceOptions(configuration=configuration),
            description=self.description,
            tags=self.tags,
            owner=self.owner,
        )
        proto.timestamp_field = self.timestamp_field
        proto.created_timestamp_column = self.created_timestamp_column
        return proto

    def validate(self, config: RepoConfig) -> None:
        # Resolving the binding is enough: a missing binding is a config error
        # raised by the offline store with every unbound source listed.
        from potluck.offline.bindings import binding_for

        binding_for(config, self)

    @staticmethod
    def source_datatype_to_feast_value_type() -> Callable[[str], ValueType]:
        return arrow_type_to_value_type

    def get_table_column_names_and_types(self, config: RepoConfig) -> Iterable[tuple[str, str]]:
        from potluck.offline.bindings import connector_for

        schema = connector_for(config, self).schema(self.table)
        return [(field.name, str(field.type)) for field in schema]

    def get_table_query_string(self) -> str:
        return f"{self.source}.{self.table}"

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"PotluckSource(name={self.name!r}, source={self.source!r}, table={self.table!r})"
