"""Stores: one protocol, DuckDB (embedded) and OpenSearch (distributed) side by side."""
