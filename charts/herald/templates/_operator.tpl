{{/*
Rules the operator needs in each namespace it watches, (list $ peering? peeringResource):
granted through the ClusterRole when it watches every namespace, else through a Role in
each of operator.watchNamespaces. Secrets only for the features that read them.
*/}}
{{- define "herald.operator.namespacedRules" -}}
{{- $root := index . 0 }}{{- $peering := index . 1 }}
{{- $tokens := $root.Values.namespaceTokens.enabled }}
{{- $headers := $root.Values.subscriptionSecrets.enabled }}
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
{{- if or $tokens $headers }}
# Application: Secrets, read-only, never written (RBAC cannot grant by label or name, so
# this covers every Secret in scope: narrow it with operator.watchNamespaces).
{{- if $tokens }}
# namespaceTokens.enabled: publish tokens are Secrets labelled `herald.dev/token`, listed
# and watched with that label selector (the API server sends only those) and synced into
# Redis as hashes.
{{- end }}
{{- if $headers }}
# subscriptionSecrets.enabled: Subscription headers read from Secrets of its namespace.
{{- end }}
- apiGroups: [""]
  resources: [secrets]
  verbs: [{{ if $headers }}get{{ if $tokens }}, {{ end }}{{ end }}{{ if $tokens }}list, watch{{ end }}]
{{- end }}
# Application: a `service` endpoint's Service and port, read for its EndpointResolved
# condition (named reads only).
- apiGroups: [""]
  resources: [services]
  verbs: [get]
{{- if $peering }}
# Framework: knowing which other operator pods run (kopf peering, active/standby).
- apiGroups: [kopf.dev]
  resources: [{{ index . 2 }}]
  verbs: [get, list, watch, patch]
{{- end }}
{{- end }}
