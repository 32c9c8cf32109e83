{{/*
Rules the operator needs in each namespace it watches, (list peering? peeringResource):
granted through the ClusterRole when it watches every namespace, else through a Role in
each of operator.watchNamespaces.
*/}}
{{- define "herald.operator.namespacedRules" -}}
{{- $peering := index . 0 }}
# Framework: posting Events about the handlers' progress and errors (kopf only creates them).
- apiGroups: [""]
  resources: [events]
  verbs: [create]
# Application: watching Topics and Subscriptions, and patching their finalizers,
# annotations and status.
- apiGroups: [herald.dev]
  resources: [topics, subscriptions]
  verbs: [get, list, watch, patch]
- apiGroups: [herald.dev]
  resources: [topics/status, subscriptions/status]
  verbs: [get, patch]
# Application: namespace-scoped publish tokens are Secrets labelled `herald.dev/token`,
# which the operator syncs into Redis. RBAC cannot grant by label, so this covers every
# Secret in scope, read-only; the operator lists and watches with a label selector (the API
# server sends it the labelled ones only) and never writes to a Secret. Narrow it with
# operator.watchNamespaces.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
{{- if $peering }}
# Framework: knowing which other operator pods run (kopf peering, active/standby).
- apiGroups: [kopf.dev]
  resources: [{{ index . 1 }}]
  verbs: [get, list, watch, patch]
{{- end }}
{{- end }}
