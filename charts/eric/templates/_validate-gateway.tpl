{{/*
The gateway's exposure (bitnami validateValues style: one rule, its errors as a JSON list). A
LoadBalancer or NodePort Service reaches beyond the cluster; without tokens everyone it reaches
would see every account, so that takes gateway.auth.allowAnonymous=true, said out loud.
*/}}
{{- define "eric.validateValues.gatewayExposure" -}}
{{- $errors := list }}
{{- $type := .Values.gateway.service.type }}
{{- if and (ne $type "ClusterIP") (not (include "eric.gateway.auth" .)) (not .Values.gateway.auth.allowAnonymous) }}
{{- $errors = append $errors (printf "gateway.service.type=%s exposes the gateway outside the cluster without access control: set gateway.auth.tokens (or gateway.auth.existingSecret), or gateway.auth.allowAnonymous=true if everyone who reaches it may see every account" $type) }}
{{- end }}
{{- $errors | toJson }}
{{- end }}
