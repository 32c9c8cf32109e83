{{/*
The Deployment of `herald gateway`, shared by the gateway (API, and the workers unless they
run apart) and the separate workers: (list $ componentValues "component" "roles").
Both components serve /healthz and /readyz on their HTTP port, /metrics on the metrics port
only (HERALD_METRICS_PORT).
*/}}
{{- define "herald.gatewayDeployment" -}}
{{- $root := index . 0 }}{{- $values := index . 1 }}{{- $component := index . 2 }}{{- $roles := index . 3 }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "herald.componentName" (list $root $component) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "herald.componentLabels" (list $root $component) | nindent 4 }}
spec:
  {{- if not $values.autoscaling.enabled }}
  replicas: {{ $values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  selector:
    matchLabels:
      {{- include "herald.componentSelectorLabels" (list $root $component) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "herald.componentLabels" (list $root $component) | nindent 8 }}
        {{- with $values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/secrets: {{ include "herald.secretsChecksum" $root }}
        {{- with $values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "herald.serviceAccountName" (list $root $component) }}
      # Gateways and workers never call the Kubernetes API (STYLE rule 47).
      automountServiceAccountToken: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      {{- with $values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      # SIGTERM stops claiming; in-flight deliveries get HERALD_SHUTDOWN_GRACE seconds
      # before they are handed back to Redis. Kubernetes must wait longer than that.
      terminationGracePeriodSeconds: {{ include "herald.terminationGrace" (list $root ($values.preStopDelaySeconds | default 0)) }}
      securityContext:
        {{- toYaml $values.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ $component }}
          image: {{ include "herald.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: [herald, gateway]
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
            - name: metrics
              containerPort: {{ $root.Values.metrics.port }}
              protocol: TCP
          env:
            - name: HERALD_ROLES
              value: {{ $roles | quote }}
            - name: HERALD_PORT
              value: "8080"
            - name: HERALD_METRICS_PORT
              value: {{ $root.Values.metrics.port | quote }}
            {{- if has "api" (splitList "," $roles) }}
            - name: HERALD_TOKEN
              valueFrom:
                secretKeyRef:
                  name: {{ include "herald.auth.secretName" $root }}
                  key: {{ $root.Values.auth.existingSecretTokenKey }}
            {{- if $root.Values.auth.readonlyToken }}
            - name: HERALD_READONLY_TOKEN
              valueFrom:
                secretKeyRef:
                  name: {{ include "herald.auth.secretName" $root }}
                  key: {{ $root.Values.auth.existingSecretReadonlyTokenKey }}
            {{- end }}
            {{- end }}
            - name: HERALD_CURRENT_SIGNING_KEY
              valueFrom:
                secretKeyRef:
                  name: {{ include "herald.auth.secretName" $root }}
                  key: {{ $root.Values.auth.existingSecretCurrentSigningKeyKey }}
            - name: HERALD_NEXT_SIGNING_KEY
              valueFrom:
                secretKeyRef:
                  name: {{ include "herald.auth.secretName" $root }}
                  key: {{ $root.Values.auth.existingSecretNextSigningKeyKey }}
            {{- include "herald.redis.env" $root | trim | nindent 12 }}
            {{- include "herald.config.env" (prepend (splitList " " (include "herald.config.allKeys" $root)) $root) | trim | nindent 12 }}
            {{- with $values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- if $values.livenessProbe.enabled }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            {{- include "herald.probeTiming" $values.livenessProbe | nindent 12 }}
          {{- end }}
          {{- if $values.readinessProbe.enabled }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            {{- include "herald.probeTiming" $values.readinessProbe | nindent 12 }}
          {{- end }}
          {{- with $values.preStopDelaySeconds }}
          lifecycle:
            preStop:
              exec:
                command: [sleep, {{ . | quote }}]
          {{- end }}
          {{- with $values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          securityContext:
            {{- toYaml $values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        # The root filesystem is read-only; libraries that want a scratch dir get this one.
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
      {{- include "herald.topologySpread" (list $root $values $component) | trim | nindent 6 }}
      {{- with $values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
