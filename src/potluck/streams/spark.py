"""Scale-out: the same kernels on Spark Structured Streaming, reading the Redis stream.

* :func:`redis_stream_source` -- a Spark 4 Python streaming data source
  (``spark.readStream.format("potluck_redis_stream")``): offsets are stream entry ids;
  each micro-batch's id range is split into partitions read with ``XRANGE`` on the
  executors. Spark's checkpoint fixes every micro-batch's range, so a re-run batch
  reads the same entries.
* :func:`fold_batch` -- the ``foreachBatch`` sink: the batch is hash-partitioned by
  entity key and each partition, on an executor, validates its events and commits them
  with :meth:`RedisLog.commit_marked` -- the in-process processor's kernel
  (:func:`potluck.streams.apply.compute`) and transaction, fenced by a marker
  ``(query, batch id, partition)`` instead of a consumer lease, so a re-run batch
  applies each partition once. Keys are in one partition only, so partitions never
  race on a state. The rows go to the outbox; the driver flushes it to the offline table.

Events of a key are folded in stream order (entries sorted by id in each partition),
as the in-process processor does.
"""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from potluck.streams.apply import SourcePlan

__all__ = ["SinkConfig", "fold_batch", "redis_stream_source", "run_query"]

SCHEMA = "id string, data binary, event_id string"
_MAX_SEQ = "18446744073709551615"


def _ms(entry_id: str) -> int:
    return int(entry_id.split("-")[0])


def _source_classes() -> tuple[type, type, type]:
    from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition

    class RangePartition(InputPartition):  # type: ignore[misc]
        def __init__(self, lo: str, hi: str) -> None:
            self.lo, self.hi = lo, hi  # (lo, hi]

    class Reader(DataSourceStreamReader):  # type: ignore[misc]
        def __init__(self, options: Any) -> None:
            self.options = options

        def _client(self) -> Any:
            import redis

            o = self.options
            return redis.Redis(
                host=o.get("host", "127.0.0.1"), port=int(o["port"]), db=int(o.get("db", "0"))
            )

        def initialOffset(self) -> dict:
            return {"id": "0-0"}

        def latestOffset(self, start: dict | None = None, limit: Any = None) -> dict:
            last = self._client().xrevrange(self.options["stream"], count=1)
            return {"id": last[0][0].decode()} if last else dict(start or {"id": "0-0"})

        def partitions(self, start: dict, end: dict) -> Sequence[Any]:
            lo, hi = start["id"], end["id"]
            if lo == hi:
                return []
            parts = max(1, int(self.options.get("partitions", "2")))
            a, b = _ms(lo), _ms(hi)
            cuts = sorted({a + (b - a) * i // parts for i in range(1, parts)} - {a, b})
            bounds = [lo, *[f"{c}-{_MAX_SEQ}" for c in cuts], hi]
            return [RangePartition(x, y) for x, y in itertools.pairwise(bounds)]

        def read(self, partition: Any) -> Iterator[tuple[Any, ...]]:
            from potluck.streams.events import producer_id

            client, stream = self._client(), self.options["stream"]
            lo = partition.lo
            while True:
                rows = client.xrange(stream, min=f"({lo}", max=partition.hi, count=5000)
                for entry_id, fields in rows:
                    if b"events" in fields:  # a batched entry: one row per event
                        yield from _event_rows(entry_id.decode(), fields)
                        continue
                    yield (
                        entry_id.decode(),
                        fields.get(b"data", b""),
                        producer_id(fields.get(b"event_id")),
                    )
                if len(rows) < 5000:
                    return
                lo = rows[-1][0].decode()

        def commit(self, end: dict) -> None:
            return None

    class Source(DataSource):  # type: ignore[misc]
        @classmethod
        def name(cls) -> str:
            return "potluck_redis_stream"

        def schema(self) -> str:
            return SCHEMA

        def streamReader(self, schema: Any) -> Any:
            return Reader(self.options)

    return Source, Reader, RangePartition


def redis_stream_source() -> type:
    """The data source class (pyspark is imported only when it is asked for)."""
    return _source_classes()[0]


@dataclass(frozen=True)
class SinkConfig:
    host: str
    port: int
    db: int
    project: str
    query: str
    lateness_s: float
    partitions: int = 2


def _fold_partition(plan_blob: bytes, config: SinkConfig, batch_id: int) -> Any:
    def fold(batches: Iterator[Any]) -> Iterator[Any]:
        from datetime import UTC, datetime, timedelta

        import pyarrow as pa
        from pyspark import TaskContext

        from potluck.streams.apply import MAX_AHEAD, batch_keys, compute
        from potluck.streams.events import Entry, validate
        from potluck.streams.log import Reads
        from potluck.streams.redis_log import RedisLog

        plan: SourcePlan = pickle.loads(plan_blob)
        part = TaskContext.get().partitionId()  # type: ignore[union-attr]
        rows: list[dict[str, Any]] = []
        for batch in batches:
            rows += batch.to_pylist()
        rows.sort(key=lambda r: _order(r["id"]))  # stream order
        entries = [Entry(r["id"], r["data"] or b"", r["event_id"]) for r in rows]
        applied = dead = 0
        if entries:
            checked = validate(entries, plan.schema, [*plan.key_columns, plan.timestamp])
            good = checked.rows
            keys = batch_keys(plan, good) if good.num_rows else {t.name: [] for t in plan.targets}
            reads = Reads(
                windowed={t.name: list(dict.fromkeys(keys[t.name])) for t in plan.windowed},
                latest={t.name: (t.layout, list(dict.fromkeys(keys[t.name]))) for t in plan.latest},  # type: ignore[misc]
                event_ids=list(dict.fromkeys(e for e in checked.event_ids if e is not None)),
            )

            def work(snapshot: Any) -> Any:
                writes = compute(
                    plan,
                    good,
                    checked.ids,
                    checked.event_ids,
                    keys,
                    snapshot,
                    timedelta(seconds=config.lateness_s),
                    datetime.now(UTC) + MAX_AHEAD,
                )
                writes.dead = [*checked.dead, *writes.dead]
                return writes

            log = RedisLog.connect(config.host, config.port, config.db, config.project)
            try:
                marker = f"{config.query}:{batch_id}:{part}"
                writes = log.commit_marked(plan.source, marker, reads, work)
            finally:
                log.close()
            if writes is not None:
                applied, dead = writes.applied, len(writes.dead)
        yield pa.RecordBatch.from_pylist(
            [{"partition": part, "applied": applied, "dead": dead}],
            schema=pa.schema(
                [("partition", pa.int64()), ("applied", pa.int64()), ("dead", pa.int64())]
            ),
        )

    return fold


def fold_batch(plan: SourcePlan, config: SinkConfig) -> Any:
    """The ``foreachBatch`` function folding each micro-batch on the executors."""
    blob = pickle.dumps(plan)

    def sink(df: Any, batch_id: int) -> None:
        from pyspark.sql import functions as F

        keyed = (
            df.withColumn(
                "_key",
                F.concat_ws(
                    "\x1f",
                    *[
                        F.get_json_object(F.col("data").cast("string"), f"$.{c}")
                        for c in plan.key_columns
                    ],
                ),
            )
            .repartition(config.partitions, "_key")
            .drop("_key")
        )
        keyed.mapInArrow(
            _fold_partition(blob, config, batch_id), "partition long, applied long, dead long"
        ).collect()

    return sink


def run_query(
    spark: Any,
    plan: SourcePlan,
    config: SinkConfig,
    stream: str,
    checkpoint: str,
    available_now: bool = True,
) -> Any:
    """Start (and with ``available_now`` wait for) the streaming query of one source."""
    spark.dataSource.register(redis_stream_source())
    frame = (
        spark.readStream.format("potluck_redis_stream")
        .option("host", config.host)
        .option("port", str(config.port))
        .option("db", str(config.db))
        .option("stream", stream)
        .option("partitions", str(config.partitions))
        .load()
    )
    writer = (
        frame.writeStream.foreachBatch(fold_batch(plan, config))
        .option("checkpointLocation", checkpoint)
        .queryName(config.query)
    )
    query = writer.trigger(availableNow=True).start() if available_now else writer.start()
    if available_now:
        query.awaitTermination()
    return query


def stream_on_spark(
    repo: Any,
    sources: Sequence[str] | None,
    spark: Any,
    checkpoint: str,
    *,
    query: str = "potluck_stream",
    partitions: int = 2,
    lateness_s: float = 3600.0,
) -> dict[str, int]:
    """Run every pending micro-batch of ``sources`` on ``spark`` (``availableNow``), after
    re-anchoring window states if due, then flush the outbox to the offline tables.
    Returns the rows appended offline per source. Redis online store only."""
    from datetime import UTC, datetime

    from potluck.errors import ConfigurationError
    from potluck.online.stores import store_kind
    from potluck.online.window_states import open_state_store
    from potluck.streams.backends import open_log
    from potluck.streams.offline import flush, owned_views, rebuild
    from potluck.streams.processor import stream_plans

    if store_kind(repo.config) != "redis":
        raise ConfigurationError(
            "streaming on Spark reads Redis Streams: use the Redis online store"
        )
    redis = repo.settings.redis
    log = open_log(repo)
    states = open_state_store(repo.config)
    out = {}
    try:
        for plan in stream_plans(repo, sources):
            anchors = log.anchors(plan.source)
            now = datetime.now(UTC).replace(microsecond=0)
            owned = len(owned_views(states, plan)) == len(plan.windowed)
            if not owned or any(t.name not in anchors for t in plan.windowed):
                rebuild(log, repo.settings, plan, query, now)
            config = SinkConfig(
                redis.host,
                redis.port,
                redis.db,
                repo.config.project,
                f"{query}_{plan.source}",
                lateness_s,
                partitions,
            )
            stream = f"potluck:stream:{repo.config.project}:{plan.source}"
            run_query(spark, plan, config, stream, f"{checkpoint}/{plan.source}")
            out[plan.source] = flush(log, repo.settings, plan, query)
    finally:
        log.close()
        states.close()
    return out


def _event_rows(entry_id: str, fields: dict[bytes, bytes]) -> Iterator[tuple[Any, ...]]:
    """The rows of a batched entry's events, ids ``{entry}/{line}`` (as the in-process
    path names them); an entry refused whole (a wrong number of ``event_ids``, too big)
    stays one row that validation turns into the in-process path's dead letter."""
    from potluck.streams.events import DeadLetter, Entry, _expand, producer_id, refused_row

    entry = Entry(entry_id, fields[b"events"], producer_id(fields.get(b"event_ids")), True)
    events: list[Entry] = []
    dead: list[DeadLetter] = []
    _expand(entry, events, dead)
    for refused in dead:
        yield (refused.id, refused_row(refused), None)
    for e in events:
        yield (e.id, e.data, e.event_id)


def _order(entry_id: str) -> tuple[int, ...]:
    """Stream order of entry ids, events of a batched entry (``{id}/{line}``) in line order."""
    head, _, line = entry_id.partition("/")
    ms, seq = head.split("-")
    return (int(ms), int(seq), int(line) if line else -1)
