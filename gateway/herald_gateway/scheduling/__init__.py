"""Scheduling: the loop that fires due schedules through the publish model.

It may import `herald_gateway.publish`, the shared modules and `herald_core`; never `api`
or `delivery` (it tells a local worker about new work through a `notify` callable).
"""
