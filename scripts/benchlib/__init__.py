"""What the benchmarks under scripts/ share: a light HTTP client for the load generator,
readings from /proc, the customers' load with its reply matching, and the report's
helpers (code version, docs/BENCHMARKS.md sections)."""
