"""The gateway: the QStash-compatible HTTP API, the delivery workers and the scheduler, in
subpackages whose dependencies point one way (the contracts in pyproject.toml):

    cli                          the `herald` command, the one composition root
    app | dev                    app: composes API, delivery and scheduling; dev: `herald dev`
    api | scheduling | delivery  independent of each other
    publish                      the publish model and its store step
    state                        what the lifespan builds and the routes read
    keyring | routing_cache | metrics   shared by the sides above

A module may import from its own layer's package and from the layers below it, never above.
"""
