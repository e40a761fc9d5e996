{{/* Names and labels shared by every object of the chart. */}}
{{- define "wapr.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "wapr.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "wapr.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "wapr.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "wapr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ .Values.serviceAccount.name | default (include "wapr.fullname" .) }}
{{- else -}}
{{ .Values.serviceAccount.name | default "default" }}
{{- end -}}
{{- end -}}

{{/* Where nodes find placement: this chart's service, or the given address. */}}
{{- define "wapr.placementAddress" -}}
{{- if .Values.placement.deploy -}}
{{ include "wapr.fullname" . }}-placement:{{ .Values.placement.port }}
{{- else -}}
{{ required "placement.address is required when placement.deploy is false" .Values.placement.address }}
{{- end -}}
{{- end -}}

{{- define "wapr.schedulerAddress" -}}
{{- if .Values.scheduler.deploy -}}
{{ include "wapr.fullname" . }}-scheduler:{{ .Values.scheduler.port }}
{{- else -}}
{{ required "scheduler.address is required when scheduler.deploy is false" .Values.scheduler.address }}
{{- end -}}
{{- end -}}

{{/* Memory request: 64 MiB + 40 KiB per live actor, unless set. */}}
{{- define "wapr.memoryRequest" -}}
{{- $requests := .Values.node.resources.requests | default dict -}}
{{- if $requests.memory -}}
{{ $requests.memory }}
{{- else -}}
{{ add 64 (div (add (mul (int .Values.node.maxLiveActors) 40) 1023) 1024) }}Mi
{{- end -}}
{{- end -}}

{{/* The hardened container security context every wapr container runs with. */}}
{{- define "wapr.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- define "wapr.podSecurity" -}}
runAsNonRoot: true
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Mutual TLS (tls.secretName): env, mount and volume for every wapr container. */}}
{{- define "wapr.tlsEnv" -}}
{{- if .Values.tls.secretName -}}
- name: WAPR_TLS_CERT
  value: /etc/wapr/tls/tls.crt
- name: WAPR_TLS_KEY
  value: /etc/wapr/tls/tls.key
- name: WAPR_TLS_CA
  value: /etc/wapr/tls/ca.crt
- name: WAPR_TLS_SERVER_NAME
  value: {{ .Values.tls.serverName | quote }}
{{- end }}
{{- end -}}

{{- define "wapr.tlsMount" -}}
{{- if .Values.tls.secretName -}}
- name: tls
  mountPath: /etc/wapr/tls
  readOnly: true
{{- end }}
{{- end -}}

{{- define "wapr.tlsVolume" -}}
{{- if .Values.tls.secretName -}}
- name: tls
  secret:
    secretName: {{ .Values.tls.secretName }}
    defaultMode: 0440
{{- end }}
{{- end -}}
