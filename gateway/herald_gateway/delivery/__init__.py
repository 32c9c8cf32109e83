"""Delivery: the worker that claims due tasks, sends them (`sender`), classifies the answer
(`attempts`), settles outcomes in batches, keeps leases, queues callbacks and follows
wake-up notes; and the loops the worker starts beside it, each in its own module
(`retention`, `grants`; the signing keys follow Redis through `herald_gateway.keyring`).

It may import the shared modules (`keyring`, `metrics`, `routing_cache`) and `herald_core`;
never `api` or `scheduling`.
"""
