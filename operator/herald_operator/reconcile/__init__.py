"""Pure reconcile decisions: what the status of a Topic or Subscription should say, given
what the sync in herald_core.routing_sync did. No kopf, no Redis."""
