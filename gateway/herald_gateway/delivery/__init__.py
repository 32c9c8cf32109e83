"""Delivery: the worker that claims due tasks, sends them (`sender`), classifies the answer
(`attempts`), settles outcomes in batches, keeps leases, queues callbacks and follows
wake-up notes.

It may import the shared modules (`keyring`, `metrics`, `routing_cache`) and `herald_core`;
never `api` or `scheduling`.
"""
