"""The shop's admin API under `/api/v1`: JSON, per-shop API keys, RFC 9457 problems, and
an OpenAPI 3.1 document built from the same pydantic models the handlers use."""
