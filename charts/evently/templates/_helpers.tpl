{{/* Names, labels and the small decisions every template shares. */}}

{{- define "evently.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "evently.fullname" -}}
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

{{/* The services, in a fixed order, named as `evently serve` knows them. */}}
{{- define "evently.serviceNames" -}}
users events bookings search analytics notifications waiting_room
{{- end }}

{{/* "<fullname>-<component>": (list $ "users"); waiting_room -> ...-waiting-room (DNS). */}}
{{- define "evently.componentName" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "evently.fullname" $root) (index . 1 | replace "_" "-") | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "evently.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "evently.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: evently
{{- end }}

{{/* Labels of one component: (list $ "users") */}}
{{- define "evently.componentLabels" -}}
{{ include "evently.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* Selector labels of one component: (list $ "users") */}}
{{- define "evently.selectorLabels" -}}
app.kubernetes.io/name: {{ include "evently.name" (index . 0) }}
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "evently.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "evently.operatorImage" -}}
{{- $repository := default .Values.image.repository .Values.operator.image.repository }}
{{- $tag := default (default .Chart.AppVersion .Values.image.tag) .Values.operator.image.tag }}
{{- printf "%s:%s" $repository $tag }}
{{- end }}

{{/* A container command, wrapped for Tilt's live update when dev.reloadWrapper is set:
     (list $ "evently") */}}
{{- define "evently.command" -}}
{{- $root := index . 0 }}
{{- $command := list (index . 1) }}
{{- if $root.Values.dev.reloadWrapper }}
{{- $command = prepend $command $root.Values.dev.reloadWrapper }}
{{- end }}
{{- toJson $command }}
{{- end }}

{{/* One service's values: serviceDefaults overridden by services.<name>. */}}
{{- define "evently.serviceValues" -}}
{{- $root := index . 0 }}
{{- $own := index $root.Values.services (index . 1) | default dict }}
{{- toYaml (mergeOverwrite (deepCopy $root.Values.serviceDefaults) (deepCopy $own)) }}
{{- end }}

{{/* The Secret holding INTERNAL_API_KEY, JWT_SIGNING_KEYS, DATABASE_URL, ADMIN_* ... */}}
{{- define "evently.secretName" -}}
{{- default (include "evently.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "evently.configName" -}}
{{- include "evently.componentName" (list . "config") }}
{{- end }}

{{- define "evently.serviceUrl" -}}
{{- printf "http://%s:8080" (include "evently.componentName" .) }}
{{- end }}

{{- define "evently.prometheusUrl" -}}
{{- if .Values.monitoring.prometheusUrl }}
{{- .Values.monitoring.prometheusUrl }}
{{- else if .Values.prometheus.enabled }}
{{- printf "http://%s:9090" (include "evently.componentName" (list . "prometheus")) }}
{{- end }}
{{- end }}

{{/* Refuses values that cannot work, with a message naming what to set. */}}
{{- define "evently.validate" -}}
{{- if and (not .Values.postgresql.enabled) (not .Values.database.url) (not .Values.database.existingSecret.name) (not .Values.secrets.existingSecret) }}
{{- fail "evently: no database configured: set database.url, database.existingSecret.name or secrets.existingSecret (holding DATABASE_URL), or postgresql.enabled=true for an in-cluster PostgreSQL" }}
{{- end }}
{{- if and .Values.postgresql.enabled (or .Values.database.url .Values.database.existingSecret.name) }}
{{- fail "evently: postgresql.enabled and an external database (database.url / database.existingSecret.name) are mutually exclusive" }}
{{- end }}
{{- if and .Values.ingress.tls.enabled (not .Values.ingress.tls.secretName) }}
{{- fail "evently: ingress.tls.enabled needs ingress.tls.secretName" }}
{{- end }}
{{- if and .Values.ingress.tls.enabled (not .Values.ingress.host) }}
{{- fail "evently: ingress.tls.enabled needs ingress.host" }}
{{- end }}
{{- if and (eq .Values.mail.transport "smtp") (not .Values.mail.smtp.host) }}
{{- fail "evently: mail.transport=smtp needs mail.smtp.host" }}
{{- end }}
{{- end }}

{{/* The public URL links in mails start with: mail.publicBaseUrl, else the ingress host. */}}
{{- define "evently.publicBaseUrl" -}}
{{- if .Values.mail.publicBaseUrl }}
{{- .Values.mail.publicBaseUrl }}
{{- else if .Values.ingress.host }}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host }}
{{- end }}
{{- end }}

{{/* The notifications service's mail settings (values: mail). */}}
{{- define "evently.mailEnv" -}}
- name: MAIL_TRANSPORT
  value: {{ .Values.mail.transport | quote }}
- name: MAIL_FROM
  value: {{ .Values.mail.from | quote }}
{{- with include "evently.publicBaseUrl" . }}
- name: PUBLIC_BASE_URL
  value: {{ . | quote }}
{{- end }}
{{- if eq .Values.mail.transport "smtp" }}
- name: SMTP_HOST
  value: {{ .Values.mail.smtp.host | quote }}
- name: SMTP_PORT
  value: {{ .Values.mail.smtp.port | quote }}
- name: SMTP_TLS
  value: {{ .Values.mail.smtp.tls | quote }}
{{- with .Values.mail.smtp.username }}
- name: SMTP_USERNAME
  value: {{ . | quote }}
{{- end }}
{{- if .Values.mail.smtp.existingSecret.name }}
- name: SMTP_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.mail.smtp.existingSecret.name }}
      key: {{ .Values.mail.smtp.existingSecret.key }}
{{- else if .Values.mail.smtp.password }}
{{ include "evently.secretEnv" (list . "SMTP_PASSWORD") }}
{{- end }}
{{- end }}
{{- end }}

{{/* DATABASE_URL as an env entry. */}}
{{- define "evently.databaseUrlEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
{{- if .Values.database.existingSecret.name }}
      name: {{ .Values.database.existingSecret.name }}
      key: {{ .Values.database.existingSecret.key }}
{{- else }}
      name: {{ include "evently.secretName" . }}
      key: DATABASE_URL
{{- end }}
{{- end }}

{{/* An env entry from the chart's (or the existing) Secret: (list $ "INTERNAL_API_KEY") */}}
{{- define "evently.secretEnv" -}}
- name: {{ index . 1 }}
  valueFrom:
    secretKeyRef:
      name: {{ include "evently.secretName" (index . 0) }}
      key: {{ index . 1 }}
{{- end }}

{{/* Capabilities: newest API where the cluster serves it, else the older one.
     KubeVersion is checked too, because `helm template` claims every known API. */}}
{{- define "evently.hpaApiVersion" -}}
{{- if and (.Capabilities.APIVersions.Has "autoscaling/v2") (semverCompare ">=1.23-0" .Capabilities.KubeVersion.Version) }}
{{- print "autoscaling/v2" }}
{{- else }}
{{- print "autoscaling/v2beta2" }}
{{- end }}
{{- end }}

{{- define "evently.pdbApiVersion" -}}
{{- if and (.Capabilities.APIVersions.Has "policy/v1") (semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version) }}
{{- print "policy/v1" }}
{{- else }}
{{- print "policy/v1beta1" }}
{{- end }}
{{- end }}

{{/* "true" when the Prometheus operator's API exists and ServiceMonitors are wanted. */}}
{{- define "evently.useServiceMonitor" -}}
{{- if and .Values.monitoring.serviceMonitor.enabled (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") }}
{{- print "true" }}
{{- end }}
{{- end }}

{{/* Pod annotations asking a plain Prometheus to scrape, when there is no ServiceMonitor:
     (list $ port) */}}
{{- define "evently.scrapeAnnotations" -}}
{{- $root := index . 0 }}
{{- if not (include "evently.useServiceMonitor" $root) }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ index . 1 | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{/* Spread a component's pods over nodes and zones: (list $ "users") */}}
{{- define "evently.topologySpread" -}}
{{- $root := index . 0 }}
{{- range $root.Values.topologySpread.topologyKeys }}
- maxSkew: {{ $root.Values.topologySpread.maxSkew }}
  topologyKey: {{ . }}
  whenUnsatisfiable: {{ $root.Values.topologySpread.whenUnsatisfiable }}
  labelSelector:
    matchLabels:
      {{- include "evently.selectorLabels" (list $root (index $ 1)) | nindent 6 }}
{{- end }}
{{- end }}

{{- define "evently.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "evently.securityContext" -}}
{{- toYaml .Values.securityContext }}
{{- end }}

{{/* The only writable path of an evently container. */}}
{{- define "evently.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}

{{- define "evently.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* The NetworkPolicy peer(s) allowed to scrape: the configured Prometheus, and the
     in-chart one when enabled. Callers append `ports:`. */}}
{{- define "evently.prometheusPeers" -}}
# Prometheus, for /metrics.
- from:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.prometheus.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .Values.networkPolicy.prometheus.podSelector | nindent 8 }}
    {{- if .Values.prometheus.enabled }}
    - podSelector:
        matchLabels:
          {{- include "evently.selectorLabels" (list . "prometheus") | nindent 10 }}
    {{- end }}
{{- end }}

{{/*
What the operator may do with Event resources and their scale targets in a namespace it
watches: a Role per watched namespace, or one ClusterRole with operator.clusterWide.
*/}}
{{- define "evently.operatorNamespacedRules" -}}
# The Event resources it reconciles (kopf patches them), their status and finalizers.
- apiGroups: [evently.io]
  resources: [events]
  verbs: [get, list, watch, patch, update]
- apiGroups: [evently.io]
  resources: [events/status]
  verbs: [get, patch, update]
- apiGroups: [evently.io]
  resources: [events/finalizers]
  verbs: [update]
# Scaling for a sale: a Deployment's replicas, patched together with the annotation
# that records what was there before the window (evently.io/recorded-replicas)...
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, patch]
# ...or, where an HPA owns a Deployment's replicas, through its minReplicas.
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, watch, patch]
# Kubernetes Events about Event resources (kubectl describe evt ...).
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}
