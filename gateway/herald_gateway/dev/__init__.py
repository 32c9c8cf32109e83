"""Dev mode (`herald dev`): an embedded redis-server and Topic/Subscription manifests loaded
from files instead of the operator.

Only `herald_gateway.cli` imports it; it imports only `herald_core`.
"""
