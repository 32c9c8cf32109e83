"""Scheduling: the loop that fires due schedules through the publish model.

It may import `herald_gateway.publish`, the shared modules and `herald_core`; never `api`
or `delivery` (the store tells a local worker of what it stores: `Store.on_new_work`).
"""
