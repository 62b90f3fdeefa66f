{{/* Labels every object of the chart carries. */}}
{{- define "bookinfo.labels" -}}
app.kubernetes.io/part-of: bookinfo
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}
