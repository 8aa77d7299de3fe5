{{/*
Names. The full name prefixes every resource; components add their own suffix
(<fullname>-aggregator, <fullname>-gateway, …).
*/}}
{{- define "eric.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "eric.fullname" -}}
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

{{/* <fullname>-<component>. Call with (dict "context" $ "component" "aggregator"). */}}
{{- define "eric.componentName" -}}
{{- printf "%s-%s" (include "eric.fullname" .context | trunc 40 | trimSuffix "-") .component }}
{{- end }}

{{- define "eric.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: name + instance + component, so that the three workloads of one release (and
two releases in one namespace) never select each other's pods.
*/}}
{{- define "eric.selectorLabels" -}}
app.kubernetes.io/name: {{ include "eric.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Standard labels of every resource. Call with (dict "context" $ "component" "…"). */}}
{{- define "eric.labels" -}}
helm.sh/chart: {{ include "eric.chart" .context }}
{{ include "eric.selectorLabels" . }}
app.kubernetes.io/version: {{ .context.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/part-of: eric
{{- with .context.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "eric.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Kafka bootstrap servers: the bundled broker's Service, or the external cluster. */}}
{{- define "eric.kafka.bootstrapServers" -}}
{{- if .Values.kafka.enabled }}
{{- printf "%s:9092" (include "eric.componentName" (dict "context" . "component" "kafka")) }}
{{- else }}
{{- .Values.externalKafka.bootstrapServers }}
{{- end }}
{{- end }}

{{- define "eric.kafka.securityProtocol" -}}
{{- if .Values.kafka.enabled }}plaintext{{ else }}{{ .Values.externalKafka.securityProtocol }}{{ end }}
{{- end }}

{{- define "eric.kafka.sasl" -}}
{{- if hasPrefix "sasl" (include "eric.kafka.securityProtocol" .) }}true{{ end }}
{{- end }}

{{/*
SASL users, one per workload: producer, aggregator, gateway and provisioning (the topic Job).
A workload uses its own externalKafka.sasl.users.<workload> when any of it is set, otherwise the
default externalKafka.sasl user. The helpers about one workload take
(dict "context" $ "workload" "<workload>").
*/}}
{{- define "eric.kafka.saslWorkloads" -}}
{{- list "producer" "aggregator" "gateway" "provisioning" | toJson }}
{{- end }}

{{/* The workloads this release runs, as JSON (a disabled one needs no user). */}}
{{- define "eric.kafka.activeSaslWorkloads" -}}
{{- $active := list "aggregator" "gateway" }}
{{- if .Values.producer.enabled }}{{ $active = prepend $active "producer" }}{{ end }}
{{- if .Values.topics.provisioning.enabled }}{{ $active = append $active "provisioning" }}{{ end }}
{{- $active | toJson }}
{{- end }}

{{/* A workload's user as JSON {own, username, password, existingSecret}; read it with fromJson. */}}
{{- define "eric.kafka.saslUser" -}}
{{- $sasl := .context.Values.externalKafka.sasl }}
{{- $own := default (dict) (index (default (dict) $sasl.users) .workload) }}
{{- if or $own.username $own.password $own.existingSecret }}
{{- dict "own" true "username" (default "" $own.username) "password" (default "" $own.password) "existingSecret" (default "" $own.existingSecret) | toJson }}
{{- else }}
{{- dict "own" false "username" $sasl.username "password" $sasl.password "existingSecret" $sasl.existingSecret | toJson }}
{{- end }}
{{- end }}

{{/*
Name of the Secret a workload reads its user from: an existing one, the topic Job's hook Secret
(hooks run before the release's own Secrets are upgraded), the workload's own Secret, or the
Secret of the default user.
*/}}
{{- define "eric.kafka.saslSecretName" -}}
{{- $user := include "eric.kafka.saslUser" . | fromJson }}
{{- if $user.existingSecret }}
{{- $user.existingSecret }}
{{- else if eq .workload "provisioning" }}
{{- include "eric.componentName" (dict "context" .context "component" "topics") }}
{{- else if $user.own }}
{{- include "eric.componentName" (dict "context" .context "component" (printf "kafka-sasl-%s" .workload)) }}
{{- else }}
{{- include "eric.componentName" (dict "context" .context "component" "kafka-sasl") }}
{{- end }}
{{- end }}

{{/* "true" when a running workload other than the topic Job uses the default user from a Secret the chart makes. */}}
{{- define "eric.kafka.defaultSaslSecretNeeded" -}}
{{- $context := . }}
{{- range include "eric.kafka.activeSaslWorkloads" . | fromJsonArray }}
{{- $user := include "eric.kafka.saslUser" (dict "context" $context "workload" .) | fromJson }}
{{- if and (ne . "provisioning") (not $user.own) (not $user.existingSecret) }}true{{ end }}
{{- end }}
{{- end }}

{{/* How NOTES.txt names a workload's SASL user: its name, or the Secret it is in. */}}
{{- define "eric.kafka.saslUserLabel" -}}
{{- $user := include "eric.kafka.saslUser" . | fromJson }}
{{- if $user.existingSecret }}the user in Secret {{ $user.existingSecret }}{{ else }}User:{{ $user.username }}{{ end }}
{{- if not $user.own }} (the default user){{ end }}
{{- end }}

{{/*
The gateway's consumer group: <KAFKA_CLIENT_ID>-follower (services/gateway/src/follower.ts). The
chart leaves KAFKA_CLIENT_ID at the gateway's default, eric-gateway.
*/}}
{{- define "eric.gateway.followerGroup" -}}
eric-gateway-follower
{{- end }}

{{- define "eric.gateway.tokensSecretName" -}}
{{- default (include "eric.componentName" (dict "context" . "component" "gateway-auth")) .Values.gateway.auth.existingSecret }}
{{- end }}

{{- define "eric.gateway.auth" -}}
{{- if or .Values.gateway.auth.tokens .Values.gateway.auth.existingSecret }}true{{ end }}
{{- end }}

{{- define "eric.producer.ingestKeysSecretName" -}}
{{- default (include "eric.componentName" (dict "context" . "component" "producer-ingest-keys")) .Values.producer.ingest.existingSecret }}
{{- end }}

{{- define "eric.producer.ingestKeys" -}}
{{- if or .Values.producer.ingest.keys .Values.producer.ingest.existingSecret }}true{{ end }}
{{- end }}

{{- define "eric.aggregator.serviceAccountName" -}}
{{- if .Values.aggregator.serviceAccount.create }}
{{- default (include "eric.componentName" (dict "context" . "component" "aggregator")) .Values.aggregator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.aggregator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Configuration, as environment variables. One ConfigMap holds all of it (configmap.yaml); each
workload's checksum/config annotation hashes only the part it reads, so changing a gateway
setting does not restart the aggregators.
*/}}
{{- define "eric.config.shared" -}}
KAFKA_BROKERS: {{ include "eric.kafka.bootstrapServers" . | quote }}
KAFKA_SECURITY_PROTOCOL: {{ include "eric.kafka.securityProtocol" . | quote }}
{{- if include "eric.kafka.sasl" . }}
KAFKA_SASL_MECHANISM: {{ .Values.externalKafka.sasl.mechanism | quote }}
{{- end }}
{{- if and (not .Values.kafka.enabled) .Values.externalKafka.tls.caSecret }}
KAFKA_SSL_CA_LOCATION: {{ printf "/etc/eric/kafka-ca/%s" .Values.externalKafka.tls.caKey | quote }}
{{- end }}
KAFKA_REPLICATION_FACTOR: {{ include "eric.kafka.replicationFactor" . | quote }}
LOG_LEVEL: {{ .Values.logLevel | quote }}
TOPIC_VISITS: {{ .Values.topics.visits | quote }}
TOPIC_REPARTITION: {{ .Values.topics.repartition | quote }}
TOPIC_CHANGELOG: {{ .Values.topics.changelog | quote }}
TOPIC_ACTIVE_VISITORS: {{ .Values.topics.activeVisitors | quote }}
TOPIC_DEAD_LETTER: {{ .Values.topics.deadLetter | quote }}
VISITS_PARTITIONS: {{ include "eric.envValue" .Values.topics.visitsPartitions | quote }}
{{- end }}

{{- define "eric.kafka.replicationFactor" -}}
{{- if .Values.kafka.enabled }}1{{ else }}{{ include "eric.envValue" .Values.externalKafka.replicationFactor }}{{ end }}
{{- end }}

{{/* A value as an environment variable: 1048576 stays 1048576 (YAML numbers arrive as floats). */}}
{{- define "eric.envValue" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- end }}

{{- define "eric.config.aggregator" -}}
PARTITIONS: {{ include "eric.envValue" .Values.aggregator.replicas | quote }}
APPLICATION_ID: {{ .Values.aggregator.applicationId | quote }}
{{- range $key, $value := .Values.aggregator.config }}
{{ $key }}: {{ include "eric.envValue" $value | quote }}
{{- end }}
{{- end }}

{{- define "eric.config.gateway" -}}
{{- range $key, $value := .Values.gateway.config }}
{{ $key }}: {{ include "eric.envValue" $value | quote }}
{{- end }}
{{- end }}

{{- define "eric.config.producer" -}}
{{- range $key, $value := .Values.producer.config }}
{{ $key }}: {{ include "eric.envValue" $value | quote }}
{{- end }}
{{- end }}

{{/* checksum/config of one component: the shared settings plus its own. */}}
{{- define "eric.configChecksum" -}}
{{- $shared := include "eric.config.shared" .context }}
{{- $own := include (printf "eric.config.%s" .component) .context }}
{{- printf "%s\n%s" $shared $own | sha256sum }}
{{- end }}

{{/* checksum/secret: the chart-managed secrets a component reads (existing secrets are not seen). */}}
{{- define "eric.secretChecksum" -}}
{{- $v := .context.Values }}
{{- $user := include "eric.kafka.saslUser" (dict "context" .context "workload" .component) | fromJson }}
{{- $parts := list $user.username $user.password }}
{{- if eq .component "gateway" }}{{ $parts = append $parts $v.gateway.auth.tokens }}{{ end }}
{{- if eq .component "producer" }}{{ $parts = append $parts $v.producer.ingest.keys }}{{ end }}
{{- join "\n" $parts | sha256sum }}
{{- end }}

{{/* Environment of every Eric container: the ConfigMap plus the secrets. */}}
{{- define "eric.kafka.envFrom" -}}
- configMapRef:
    name: {{ include "eric.componentName" (dict "context" . "component" "config") }}
{{- end }}

{{/* The SASL credentials of one workload. Call with (dict "context" $ "workload" "<workload>"). */}}
{{- define "eric.kafka.secretEnv" -}}
{{- include "eric.kafka.secretEnvFrom" (dict "context" .context "secret" (include "eric.kafka.saslSecretName" .)) }}
{{- end }}

{{/* The SASL credentials from a given Secret. Call with (dict "context" $ "secret" "<name>"). */}}
{{- define "eric.kafka.secretEnvFrom" -}}
{{- if include "eric.kafka.sasl" .context }}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .context.Values.externalKafka.sasl.usernameKey }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .context.Values.externalKafka.sasl.passwordKey }}
{{- end }}
{{- end }}

{{/* Volumes every Eric pod has: a writable /tmp and, with TLS, the Kafka CA bundle. */}}
{{- define "eric.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if and (not .Values.kafka.enabled) .Values.externalKafka.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.externalKafka.tls.caSecret }}
    items:
      - key: {{ .Values.externalKafka.tls.caKey }}
        path: {{ .Values.externalKafka.tls.caKey }}
{{- end }}
{{- end }}

{{- define "eric.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if and (not .Values.kafka.enabled) .Values.externalKafka.tls.caSecret }}
- name: kafka-ca
  mountPath: /etc/eric/kafka-ca
  readOnly: true
{{- end }}
{{- end }}

{{/* httpGet probes on the named port "http": /healthz (alive) and /ready (can do its job). */}}
{{- define "eric.probes" -}}
startupProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 2
  failureThreshold: 60
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /ready
    port: http
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end }}

{{/*
The SASL users' errors, as a JSON list: each user is complete (username with password, or an
existing Secret, not both), every running workload has one (its own or the default), and
credentials come only with a SASL protocol.
*/}}
{{- define "eric.validateSaslUsers" -}}
{{- $errors := list }}
{{- $context := . }}
{{- $sasl := .Values.externalKafka.sasl }}
{{- $users := list (dict "path" "externalKafka.sasl" "user" $sasl) }}
{{- range include "eric.kafka.saslWorkloads" . | fromJsonArray }}
{{- $users = append $users (dict "path" (printf "externalKafka.sasl.users.%s" .) "user" (default (dict) (index (default (dict) $sasl.users) .))) }}
{{- end }}
{{- $anySet := false }}
{{- range $users }}
{{- $user := .user }}
{{- if or $user.username $user.password $user.existingSecret }}{{ $anySet = true }}{{ end }}
{{- if and $user.existingSecret (or $user.username $user.password) }}
{{- $errors = append $errors (printf "%s.existingSecret and %s.username/password are both set: use one" .path .path) }}
{{- else if and (not $user.existingSecret) (or $user.username $user.password) (not (and $user.username $user.password)) }}
{{- $errors = append $errors (printf "%s.username and %s.password go together: set both (or %s.existingSecret)" .path .path .path) }}
{{- end }}
{{- end }}
{{- if include "eric.kafka.sasl" . }}
{{- $missing := list }}
{{- range include "eric.kafka.activeSaslWorkloads" . | fromJsonArray }}
{{- $user := include "eric.kafka.saslUser" (dict "context" $context "workload" .) | fromJson }}
{{- if not (or $user.existingSecret (and $user.username $user.password)) }}{{ $missing = append $missing . }}{{ end }}
{{- end }}
{{- if $missing }}
{{- $errors = append $errors (printf "externalKafka.securityProtocol=%s needs credentials for %s: set the default user (externalKafka.sasl.username and .password, or .existingSecret) or each one's own (externalKafka.sasl.users.<workload>.username and .password, or .existingSecret)" .Values.externalKafka.securityProtocol (join ", " $missing)) }}
{{- end }}
{{- else if $anySet }}
{{- $errors = append $errors (printf "SASL credentials are set but externalKafka.securityProtocol is %s: use sasl_plaintext or sasl_ssl" (include "eric.kafka.securityProtocol" .)) }}
{{- end }}
{{- $errors | toJson }}
{{- end }}

{{/*
Impossible combinations stop the install with a message that says what to change. (The schema
already rejects unknown keys and wrong types.)
*/}}
{{- define "eric.validateValues" -}}
{{- $errors := list }}
{{- $v := .Values }}
{{- if and $v.kafka.enabled $v.externalKafka.bootstrapServers }}
{{- $errors = append $errors "both kafka.enabled=true (the bundled development broker) and externalKafka.bootstrapServers are set: choose one (set kafka.enabled=false to use your cluster)" }}
{{- end }}
{{- if and (not $v.kafka.enabled) (not $v.externalKafka.bootstrapServers) }}
{{- $errors = append $errors "no Kafka: set externalKafka.bootstrapServers (host:port,…) or kafka.enabled=true for the bundled development broker" }}
{{- end }}
{{- if and $v.kafka.enabled (ne $v.externalKafka.securityProtocol "plaintext") }}
{{- $errors = append $errors (printf "externalKafka.securityProtocol=%s applies to an external cluster only: the bundled broker speaks plaintext" $v.externalKafka.securityProtocol) }}
{{- end }}
{{- if and $v.kafka.enabled $v.externalKafka.tls.caSecret }}
{{- $errors = append $errors "externalKafka.tls.caSecret applies to an external cluster only: the bundled broker speaks plaintext" }}
{{- end }}
{{- $errors = concat $errors (include "eric.validateSaslUsers" . | fromJsonArray) }}
{{- if and $v.gateway.auth.tokens $v.gateway.auth.existingSecret }}
{{- $errors = append $errors "gateway.auth.tokens and gateway.auth.existingSecret are both set: use one" }}
{{- end }}
{{- $errors = concat $errors (include "eric.validateValues.gatewayExposure" . | fromJsonArray) }}
{{- if and $v.producer.ingest.keys $v.producer.ingest.existingSecret }}
{{- $errors = append $errors "producer.ingest.keys and producer.ingest.existingSecret are both set: use one" }}
{{- end }}
{{- $shutdownMs := int (default 10000 (index $v.aggregator.config "SHUTDOWN_TIMEOUT_MS")) }}
{{- if le (mul (int $v.aggregator.terminationGracePeriodSeconds) 1000) $shutdownMs }}
{{- $errors = append $errors (printf "aggregator.terminationGracePeriodSeconds (%d s) must exceed SHUTDOWN_TIMEOUT_MS (%d ms), or Kubernetes kills aggregators in the middle of a transaction" (int $v.aggregator.terminationGracePeriodSeconds) $shutdownMs) }}
{{- end }}
{{- $names := list $v.topics.visits $v.topics.repartition $v.topics.changelog $v.topics.activeVisitors $v.topics.deadLetter }}
{{- if ne (len $names) (len (uniq $names)) }}
{{- $errors = append $errors (printf "the five topics need five different names, got %s" (join ", " $names)) }}
{{- end }}
{{- if and $v.metrics.prometheusRule.enabled (not $v.metrics.serviceMonitor.enabled) }}
{{- $errors = append $errors "metrics.prometheusRule.enabled needs metrics.serviceMonitor.enabled: the alerts select the series of its scrape jobs" }}
{{- end }}
{{- if $errors }}
{{- fail (printf "\n\nInvalid values for the Eric chart:\n  - %s\n" (join "\n  - " $errors)) }}
{{- end }}
{{- end }}
