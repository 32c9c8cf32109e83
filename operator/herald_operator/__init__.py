"""Herald's Kubernetes operator: kopf handlers (`handlers`) over pure reconcile functions
(`reconcile`, `conditions`) that keep the routing tables in Redis equal to the `Topic` and
`Subscription` objects. Run it with `herald operator`."""
