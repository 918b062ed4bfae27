{{/*
Addons: objects of cluster-api-addon-provider (addons.stackhpc.com/v1alpha1) that install charts and
manifests on the workload cluster. Upstream renders them from its cluster-addons subchart (alias
`addons`), hence their own chart label `addons-<version>` and the fixed `capi.stackhpc.com` prefix.
*/}}

{{- define "osc.addons.clusterName" -}}
{{- .Values.addons.clusterName | default .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Takes (list $ component). */}}
{{- define "osc.addons.labels" -}}
{{- $ctx := index . 0 -}}
helm.sh/chart: {{ include "osc.chartLabel" (list "addons" $ctx.Chart.Version) }}
capi.stackhpc.com/managed-by: {{ $ctx.Release.Service }}
capi.stackhpc.com/cluster: {{ include "osc.addons.clusterName" $ctx }}
capi.stackhpc.com/component: {{ index . 1 }}
{{- end -}}

{{/*
A chart addon: the Secret <release>-<component>-config with its values and the HelmRelease
<release>-<component> reading them (`defaults` first when given, then the user's `overrides`).
Takes a dict: ctx, component, releaseName, chart, namespace, overrides, and optionally defaults
(YAML text, may hold Jinja for the addon provider) and hooks (lifecycleHooks).
*/}}
{{- define "osc.addons.helmRelease" -}}
{{- $ctx := .ctx -}}
{{- $name := include "osc.name" (list $ctx .component) -}}
{{- $keys := hasKey . "defaults" | ternary (list "defaults" "overrides") (list "overrides") }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ $name }}-config
  labels:
    {{- include "osc.addons.labels" (list $ctx .component) | nindent 4 }}
    addons.stackhpc.com/watch: ""
stringData:
  {{- if hasKey . "defaults" }}
  defaults: |
    {{- .defaults | nindent 4 }}
  {{- end }}
  overrides: |
    {{- toYaml .overrides | nindent 4 }}
---
apiVersion: addons.stackhpc.com/v1alpha1
kind: HelmRelease
metadata:
  name: {{ $name }}
  labels: {{ include "osc.addons.labels" (list $ctx .component) | nindent 4 }}
spec:
  clusterName: {{ include "osc.addons.clusterName" $ctx }}
  bootstrap: true
  chart: {{ toYaml .chart | nindent 4 }}
  targetNamespace: {{ .namespace }}
  releaseName: {{ .releaseName }}
  valuesSources:
    {{- range $keys }}
    - secret:
        name: {{ $name }}-config
        key: {{ . }}
    {{- end }}
  {{- with .hooks }}
  lifecycleHooks: {{ toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
A Manifests addon. Takes a dict: ctx, component (its name suffix), label (the component label, when
it differs), namespace, releaseName, templates (list of Jinja template texts).
*/}}
{{- define "osc.addons.manifests" -}}
{{- $ctx := .ctx }}
---
apiVersion: addons.stackhpc.com/v1alpha1
kind: Manifests
metadata:
  name: {{ include "osc.name" (list $ctx .component) }}
  labels: {{ include "osc.addons.labels" (list $ctx (.label | default .component)) | nindent 4 }}
spec:
  clusterName: {{ include "osc.addons.clusterName" $ctx }}
  bootstrap: true
  targetNamespace: {{ .namespace }}
  releaseName: {{ .releaseName }}
  manifestSources:
    {{- range .templates }}
    - template: |
        {{- . | nindent 8 }}
    {{- end }}
{{- end -}}

{{/* A Grafana dashboards ConfigMap (Jinja-raw) for a Manifests addon. Takes (list configMapName files). */}}
{{- define "osc.addons.dashboards" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ index . 0 }}
  labels:
    grafana_dashboard: "1"
data:
{{- range $file := index . 1 }}
  {{ $file }}: |
    {% raw %}
    {{- include "osc.addons.dashboard" (trimSuffix ".json" $file) | nindent 4 }}
    {% endraw %}
{{- end }}
{{- end -}}

{{/*
A placeholder dashboard: upstream ships real Grafana dashboards; the lab has no Grafana to show them.
*/}}
{{- define "osc.addons.dashboard" -}}
{{- dict "title" . "uid" (sha256sum . | trunc 12) "panels" list "schemaVersion" 39 | toJson -}}
{{- end -}}
