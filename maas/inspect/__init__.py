"""``maas inspect``: investigation of a DuckDB file (the embedded store, a replay, an export).

- :mod:`maas.inspect.database` opens the file read-only and runs one checked SELECT at a
  time, with the catalog's views (:mod:`maas.inspect.views`) installed as temporary views;
- :mod:`maas.inspect.output` writes results as csv, json or parquet (DuckDB renders the values);
- :mod:`maas.inspect.listing` says what is in the file (tables, families, rows; views);
- :mod:`maas.inspect.export` copies a slice of a live store (OpenSearch) into a file of the same layout,
  selected with the filter language of :mod:`maas.inspect.filters`.

Submodules are imported by name (this package imports nothing): catalogs import
:mod:`maas.inspect.views` when they load, and that must not drag in a database driver.
"""
