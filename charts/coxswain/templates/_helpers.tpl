{{/* The release's name for every object of the chart. */}}
{{- define "coxswain.fullname" -}}
{{- if contains "coxswain" .Release.Name }}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{ else }}{{ printf "%s-coxswain" .Release.Name | trunc 63 | trimSuffix "-" }}{{ end }}
{{- end }}

{{/* Labels that select the operator's pod. */}}
{{- define "coxswain.selectorLabels" -}}
app.kubernetes.io/name: coxswain
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "coxswain.labels" -}}
{{ include "coxswain.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* Names of the Secrets the pod reads: the existing one, else the chart's own ("" when there is none). */}}
{{- define "coxswain.gitSecret" -}}
{{- if .Values.gitCredentials.existingSecret }}{{ .Values.gitCredentials.existingSecret }}{{ else if .Values.gitCredentials.password }}{{ include "coxswain.fullname" . }}-git{{ end }}
{{- end }}
{{- define "coxswain.apiTokensSecret" -}}
{{- if .Values.apiTokens.existingSecret }}{{ .Values.apiTokens.existingSecret }}{{ else if .Values.apiTokens.value }}{{ include "coxswain.fullname" . }}-api-tokens{{ end }}
{{- end }}
{{- define "coxswain.webhookSecret" -}}
{{- if .Values.webhookSecret.existingSecret }}{{ .Values.webhookSecret.existingSecret }}{{ else if .Values.webhookSecret.value }}{{ include "coxswain.fullname" . }}-webhook{{ end }}
{{- end }}
{{- define "coxswain.ageSecret" -}}
{{- if .Values.ageKey.existingSecret }}{{ .Values.ageKey.existingSecret }}{{ else if .Values.ageKey.value }}{{ include "coxswain.fullname" . }}-age{{ end }}
{{- end }}
