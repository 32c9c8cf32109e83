"""The HTTP API: the Starlette application (`application`), its routes (`routes/`), auth and
tenancy, list filters and views, request limits, the metrics port and the OpenAPI document.

It may import `herald_gateway.publish`, `state` and the shared modules below them, and
`herald_core`; never `delivery` or `scheduling` (the store tells a local worker of what
it stores: `Store.on_new_work`).
"""
