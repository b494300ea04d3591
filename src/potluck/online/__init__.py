"""The online store: fast, resumable materialization and a fast read path.

* :mod:`potluck.online.materialize` -- ``materialize(repo, ...)``: chunked by entity,
  column-serialized, bulk-written, resumable after a crash, incremental with lookback.
* :mod:`potluck.online.reads` -- ``online_features(repo, features, ids, now=...)`` and
  ``online_features_arrow``: Feast's values, one round trip per store per batch.
* :mod:`potluck.online.schedule` -- ``materialize --every`` and the cron recipe.
* ``stores/`` -- one folder per online store Feast knows (``sqlite``, ``redis``), writing
  and reading exactly Feast's layout; any other store goes through Feast itself.
"""
