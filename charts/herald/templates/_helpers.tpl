{{/*
Names, labels and the pieces of pod specs that several components share.
Object names are cut to 63 characters (the DNS label limit of Services and of label values).
*/}}

{{- define "herald.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "herald.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Per-component names: the suffix is kept whole, the prefix is cut to make room. */}}
{{- define "herald.componentName" -}}
{{- $root := index . 0 }}{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "herald.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{- define "herald.gateway.fullname" -}}{{ include "herald.componentName" (list . "gateway") }}{{- end }}
{{- define "herald.worker.fullname" -}}{{ include "herald.componentName" (list . "worker") }}{{- end }}
{{- define "herald.operator.fullname" -}}{{ include "herald.componentName" (list . "operator") }}{{- end }}
{{- define "herald.redis.fullname" -}}{{ include "herald.componentName" (list . "redis") }}{{- end }}

{{/* Cluster-scoped objects carry the namespace too: two releases of one name may coexist. */}}
{{- define "herald.operator.clusterName" -}}
{{- printf "%s-%s-operator" .Release.Namespace (include "herald.fullname" .) }}
{{- end }}

{{- define "herald.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object; `helm.sh/chart` and the version never reach a selector. */}}
{{- define "herald.labels" -}}
helm.sh/chart: {{ include "herald.chart" . }}
app.kubernetes.io/name: {{ include "herald.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: herald
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "herald.selectorLabels" -}}
app.kubernetes.io/name: {{ include "herald.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* (list $ "gateway") → labels / selector labels of one component. */}}
{{- define "herald.componentLabels" -}}
{{- $root := index . 0 }}
{{- include "herald.labels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "herald.componentSelectorLabels" -}}
{{- $root := index . 0 }}
{{- include "herald.selectorLabels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* (list $ "gateway") → the component's ServiceAccount name. */}}
{{- define "herald.serviceAccountName" -}}
{{- $root := index . 0 }}{{- $component := index . 1 }}
{{- $sa := (index $root.Values $component).serviceAccount }}
{{- if $sa.create }}
{{- default (include "herald.componentName" (list $root $component)) $sa.name }}
{{- else }}
{{- default "default" $sa.name }}
{{- end }}
{{- end }}

{{- define "herald.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "herald.auth.secretName" -}}
{{- default (include "herald.componentName" (list . "auth")) .Values.auth.existingSecret }}
{{- end }}

{{- define "herald.redis.secretName" -}}
{{- default (include "herald.redis.fullname" .) .Values.redis.bundled.auth.existingSecret }}
{{- end }}

{{/*
HERALD_REDIS_URL and, for an external Cluster or Sentinel, the topology settings
(gateway/herald_core/settings.py, herald_core.redis_client). For the bundled
Redis the password comes from its Secret into REDIS_PASSWORD, and Kubernetes expands
$(REDIS_PASSWORD) inside the URL when the container starts: the URL never sits in the pod
spec with the password in it. REDIS_PASSWORD is not a Herald setting; it exists only for
that expansion, so it must come first.
*/}}
{{- define "herald.redis.env" -}}
{{- if eq .Values.redis.mode "bundled" }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "herald.redis.secretName" . }}
      key: {{ .Values.redis.bundled.auth.existingSecretPasswordKey }}
- name: HERALD_REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s.%s.svc:6379/0" (include "herald.redis.fullname" .) .Release.Namespace | quote }}
{{- else }}
{{- include "herald.redis.externalEnv" .Values.redis.external }}
{{- end }}
{{- end }}

{{/*
An external Redis: HERALD_REDIS_URL (from a Secret, the url, the first cluster node, or, for
Sentinel, a URL naming the master: its host is not used), then the topology's settings.
*/}}
{{- define "herald.redis.externalEnv" -}}
{{- $topology := .topology | default "standalone" }}
{{- if .existingSecret }}
- name: HERALD_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .existingSecretUrlKey }}
{{- else if .url }}
- name: HERALD_REDIS_URL
  value: {{ .url | quote }}
{{- else if and (eq $topology "cluster") .cluster.nodes }}
- name: HERALD_REDIS_URL
  value: {{ printf "redis://%s/0" (first .cluster.nodes) | quote }}
{{- else if eq $topology "sentinel" }}
- name: HERALD_REDIS_URL
  value: {{ printf "redis://%s/0" .sentinel.masterName | quote }}
{{- else }}
{{- fail "redis.mode=external needs redis.external.url or redis.external.existingSecret (or redis.external.cluster.nodes with topology cluster)" }}
{{- end }}
{{- if ne $topology "standalone" }}
- name: HERALD_REDIS_MODE
  value: {{ $topology | quote }}
{{- end }}
{{- if and (eq $topology "cluster") .cluster.nodes }}
- name: HERALD_REDIS_CLUSTER_NODES
  value: {{ join "," .cluster.nodes | quote }}
{{- end }}
{{- if eq $topology "sentinel" }}
{{- if not .sentinel.sentinels }}
{{- fail "redis.external.topology=sentinel needs redis.external.sentinel.sentinels" }}
{{- end }}
- name: HERALD_REDIS_SENTINELS
  value: {{ join "," .sentinel.sentinels | quote }}
- name: HERALD_REDIS_MASTER_NAME
  value: {{ .sentinel.masterName | quote }}
{{- with .sentinel.existingSecret }}
- name: HERALD_REDIS_SENTINEL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.sentinel.existingSecretPasswordKey }}
{{- end }}
{{- end }}
{{- end }}

{{/*
One value of `config` as an environment variable value. Helm reads YAML numbers as floats;
whole numbers are printed as integers so that 1048576 does not become "1.048576e+06".
*/}}
{{- define "herald.envValue" -}}
{{- if or (kindIs "float64" .) (kindIs "int64" .) (kindIs "int" .) }}
{{- if eq (float64 .) (floor .) }}{{ int64 . | toString | quote }}{{ else }}{{ toString . | quote }}{{ end }}
{{- else }}
{{- toString . | quote }}
{{- end }}
{{- end }}

{{/* (list $ keys...) → HERALD_* variables of the named `config` keys, in key order. */}}
{{- define "herald.config.env" -}}
{{- $root := index . 0 }}
{{- range $key := rest . }}
- name: HERALD_{{ snakecase $key | upper }}
  value: {{ include "herald.envValue" (index $root.Values.config $key) }}
{{- end }}
{{- end }}

{{/* Every `config` key, sorted: what the gateway and the workers get. */}}
{{- define "herald.config.allKeys" -}}
{{- keys .Values.config | sortAlpha | join " " }}
{{- end }}

{{/*
terminationGracePeriodSeconds of gateway and worker pods: the preStop delay, then
HERALD_SHUTDOWN_GRACE for in-flight deliveries, plus uvicorn's 5 s margin
(herald_gateway/cli.py) and 10 s to hand unfinished tasks back to Redis.
*/}}
{{- define "herald.terminationGrace" -}}
{{- $root := index . 0 }}{{- $preStop := index . 1 }}
{{- add (ceil $root.Values.config.shutdownGrace | int) $preStop 15 }}
{{- end }}

{{/* (list $ componentValues "component") → topologySpreadConstraints, if enabled. */}}
{{- define "herald.topologySpread" -}}
{{- $root := index . 0 }}{{- $spread := (index . 1).topologySpread }}{{- $component := index . 2 }}
{{- if $spread.enabled }}
topologySpreadConstraints:
{{- range $key := $spread.topologyKeys }}
  - maxSkew: {{ $spread.maxSkew }}
    topologyKey: {{ $key }}
    whenUnsatisfiable: {{ $spread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "herald.componentSelectorLabels" (list $root $component) | nindent 8 }}
{{- end }}
{{- end }}
{{- end }}

{{/* (list probeValues) → the probe's timing fields. */}}
{{- define "herald.probeTiming" -}}
initialDelaySeconds: {{ .initialDelaySeconds }}
periodSeconds: {{ .periodSeconds }}
timeoutSeconds: {{ .timeoutSeconds }}
failureThreshold: {{ .failureThreshold }}
{{- end }}

{{/* (list $ componentValues "component") → a PodDisruptionBudget, if enabled. */}}
{{- define "herald.pdb" -}}
{{- $root := index . 0 }}{{- $values := index . 1 }}{{- $component := index . 2 }}
{{- if $values.podDisruptionBudget.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "herald.componentName" (list $root $component) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "herald.componentLabels" (list $root $component) | nindent 4 }}
spec:
  maxUnavailable: {{ $values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "herald.componentSelectorLabels" (list $root $component) | nindent 6 }}
{{- end }}
{{- end }}

{{/* (list $ componentValues "component") → a HorizontalPodAutoscaler, if enabled. */}}
{{- define "herald.hpa" -}}
{{- $root := index . 0 }}{{- $values := index . 1 }}{{- $component := index . 2 }}
{{- $hpa := $values.autoscaling }}
{{- if $hpa.enabled }}
{{- if $hpa.targetCPUUtilizationPercentage }}
{{- /* A CPU target is a share of the request: with none the HPA never scales, and one
Herald process (an event loop) uses at most one core, so a target above a core is never
reached either (docs/benchmarks.md, "Scale model"). */}}
{{- $cpu := (($values.resources | default dict).requests | default dict).cpu }}
{{- if not $cpu }}
{{- fail (printf "%s.autoscaling with targetCPUUtilizationPercentage needs %s.resources.requests.cpu: the HPA's CPU target is a share of it" $component $component) }}
{{- end }}
{{- $target := mulf (include "herald.cpuMillis" $cpu | float64) (float64 $hpa.targetCPUUtilizationPercentage) 0.01 }}
{{- if gt $target 1000.0 }}
{{- fail (printf "%s.autoscaling: %d%% of %s.resources.requests.cpu (%v) is above one core, which one Herald process never uses: request at most %dm" $component (int $hpa.targetCPUUtilizationPercentage) $component $cpu (int (divf 100000.0 (float64 $hpa.targetCPUUtilizationPercentage)))) }}
{{- end }}
{{- end }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "herald.componentName" (list $root $component) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "herald.componentLabels" (list $root $component) | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "herald.componentName" (list $root $component) }}
  minReplicas: {{ $hpa.minReplicas }}
  maxReplicas: {{ $hpa.maxReplicas }}
  metrics:
    {{- if $hpa.targetCPUUtilizationPercentage }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $hpa.targetCPUUtilizationPercentage }}
    {{- end }}
    {{- if $hpa.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ $hpa.targetMemoryUtilizationPercentage }}
    {{- end }}
{{- end }}
{{- end }}

{{/* Name of the kopf peering objects the operator pods share (operator.replicaCount > 1). */}}
{{- define "herald.operator.peeringName" -}}
{{- include "herald.operator.clusterName" . }}
{{- end }}

{{/* Where publishers reach the gateway: operator.publicUrl, else the Service's in-cluster URL. */}}
{{- define "herald.publicUrl" -}}
{{- if .Values.operator.publicUrl }}
{{- .Values.operator.publicUrl | trimSuffix "/" }}
{{- else }}
{{- $url := printf "http://%s.%s.svc" (include "herald.fullname" .) .Release.Namespace }}
{{- if ne (int .Values.gateway.service.port) 80 }}{{ $url = printf "%s:%d" $url (int .Values.gateway.service.port) }}{{ end }}
{{- $url }}
{{- end }}
{{- end }}

{{/*
A Kubernetes CPU quantity (`250m`, `1`, `0.5`, `2`) in millicores.
*/}}
{{- define "herald.cpuMillis" -}}
{{- $quantity := toString . }}
{{- if hasSuffix "m" $quantity }}
{{- trimSuffix "m" $quantity | float64 }}
{{- else if regexMatch "^[0-9]+([.][0-9]+)?$" $quantity }}
{{- mulf (float64 $quantity) 1000 }}
{{- else }}
{{- fail (printf "cannot read the CPU quantity %q (use e.g. 500m or 1)" $quantity) }}
{{- end }}
{{- end }}

{{/*
A Kubernetes memory quantity (`1Gi`, `512Mi`, `2G`, `1073741824`) in bytes.
*/}}
{{- define "herald.quantityBytes" -}}
{{- $quantity := toString . }}
{{- $number := regexFind "^[0-9]+([.][0-9]+)?" $quantity }}
{{- $unit := trimPrefix $number $quantity }}
{{- $units := dict "" 1 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 }}
{{- if or (not $number) (not (hasKey $units $unit)) }}
{{- fail (printf "cannot read the memory quantity %q (use e.g. 1Gi or 512Mi)" $quantity) }}
{{- end }}
{{- mulf (float64 $number) (index $units $unit) | floor | int64 }}
{{- end }}

{{/*
The bundled Redis' maxmemory: redis.bundled.maxmemory, else maxmemoryPercent of the memory
limit in bytes. Without either Redis would grow until the kernel kills it: refused.
*/}}
{{- define "herald.redis.maxmemory" -}}
{{- $redis := .Values.redis.bundled }}
{{- $limit := dig "limits" "memory" "" ($redis.resources | default dict) }}
{{- if $redis.maxmemory }}
{{- $redis.maxmemory }}
{{- else if $limit }}
{{- div (mul (include "herald.quantityBytes" $limit | int64) (int $redis.maxmemoryPercent)) 100 }}
{{- else }}
{{- fail "redis.bundled needs resources.limits.memory or maxmemory: an unbounded Redis is OOM-killed instead of refusing publishes" }}
{{- end }}
{{- end }}

{{/*
checksum/secrets: a hash of the data of every Secret the pods read (the chart's own and any
existingSecret), read from the cluster with `lookup` at install/upgrade time. Pods restart
on the `helm upgrade` after a rotated Secret; the chart's generated Secrets never change (they
are kept on upgrade), so they never cause a restart. Rendering without a cluster (`helm
template`, GitOps tools) sees no Secret and a constant hash: restart there with `kubectl
rollout restart`, or let a controller such as Stakater Reloader do it (podAnnotations).
*/}}
{{- define "herald.secretsChecksum" -}}
{{- $names := list (include "herald.auth.secretName" .) }}
{{- if eq .Values.redis.mode "bundled" }}
{{- $names = append $names (include "herald.redis.secretName" .) }}
{{- else }}
{{- $names = append $names .Values.redis.external.existingSecret }}
{{- $names = append $names .Values.redis.external.sentinel.existingSecret }}
{{- end }}
{{- $parts := list }}
{{- range $name := compact $names }}
{{- $data := (lookup "v1" "Secret" $.Release.Namespace $name).data | default dict }}
{{- $parts = append $parts (printf "%s:%s" $name (toJson $data)) }}
{{- end }}
{{- join "\n" $parts | sha256sum }}
{{- end }}
