"""The core both sides of Herald share: settings, the error tree, models, every Redis key and
Lua script, the store (typed repositories over Redis), pure helpers (durations, retry-delay
expressions, backoff, signing, cron, the clock) and the pure translation of Topic and
Subscription specs into routing tables.

It imports no web framework, HTTP client or kopf, and neither `herald_gateway` nor
`herald_operator` (import-linter contracts in pyproject.toml).
"""
