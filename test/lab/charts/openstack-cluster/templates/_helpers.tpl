{{/*
Names, labels and the merge helper shared by every template.
*/}}

{{/* The CAPI Cluster's name: the release name, cut to 63 characters. */}}
{{- define "osc.clusterName" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-<component>", cut to 63 characters. Takes (list $ component). */}}
{{- define "osc.name" -}}
{{- printf "%s-%s" (index . 0).Release.Name (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Secret with clouds.yaml: the user's, else the one this chart renders. */}}
{{- define "osc.credentialsSecret" -}}
{{- .Values.cloudCredentialsSecretName | default (include "osc.name" (list . "cloud-credentials")) -}}
{{- end -}}

{{/* "<chart>-<version>" as Helm's chart label spells it. Takes (list name version). */}}
{{- define "osc.chartLabel" -}}
{{- printf "%s-%s" (index . 0) (index . 1) | replace "+" "_" | trunc 63 | trimSuffix "-" | trimSuffix "." | trimSuffix "_" -}}
{{- end -}}

{{/* Selector labels: cluster, and component when given. Takes (list $ component-or-""). */}}
{{- define "osc.selectorLabels" -}}
{{- $ctx := index . 0 -}}
{{ $ctx.Values.projectPrefix }}/cluster: {{ include "osc.clusterName" $ctx }}
{{- with index . 1 }}
{{ $ctx.Values.projectPrefix }}/component: {{ . }}
{{- end }}
{{- end -}}

{{/* Labels of this chart's own objects. Takes (list $ component-or-""). */}}
{{- define "osc.labels" -}}
{{- $ctx := index . 0 -}}
helm.sh/chart: {{ include "osc.chartLabel" (list $ctx.Chart.Name $ctx.Chart.Version) }}
{{ $ctx.Values.projectPrefix }}/managed-by: {{ $ctx.Release.Service }}
{{ $ctx.Values.projectPrefix }}/infrastructure-provider: openstack
{{ include "osc.selectorLabels" . }}
{{- end -}}

{{/*
Deep merge of two values: maps key by key, lists concatenated, otherwise the second unless it is
empty. Takes (list a b); returns YAML {v: merged}, so that any kind survives include.
*/}}
{{- define "osc.merge" -}}
{{- $a := index . 0 -}}
{{- $b := index . 1 -}}
{{- $out := $a -}}
{{- if and (kindIs "slice" $a) (kindIs "slice" $b) -}}
{{- $out = concat $a $b -}}
{{- else if and (kindIs "map" $a) (kindIs "map" $b) -}}
{{- $out = deepCopy $a -}}
{{- range $k, $v := $b -}}
{{- if hasKey $a $k -}}
{{- $_ := set $out $k (include "osc.merge" (list (index $a $k) $v) | fromYaml).v -}}
{{- else -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- $out = default $a $b -}}
{{- end -}}
{{- toYaml (dict "v" $out) -}}
{{- end -}}

{{/* Merges a list of maps left to right with osc.merge; returns the YAML of the result. */}}
{{- define "osc.mergeAll" -}}
{{- $out := dict -}}
{{- range . -}}
{{- $out = (include "osc.merge" (list $out .) | fromYaml).v | default dict -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* A version string with a leading "v"; fails for a YAML number. Takes (list value message). */}}
{{- define "osc.version" -}}
{{- $v := index . 0 | required (index . 1) -}}
{{- if not (kindIs "string" $v) -}}
{{- fail (printf "Kubernetes version %v must be a string (quote it in YAML), not a %s" $v (kindOf $v)) -}}
{{- end -}}
v{{ trimPrefix "v" $v }}
{{- end -}}

{{/* Fails for the parts of upstream's values this stand-in does not render. */}}
{{- define "osc.uncovered" -}}
{{- $fail := "is not covered by the lab's openstack-cluster stand-in (see its README)" -}}
{{- if ne .Values.osDistro "ubuntu" }}{{ fail (printf "osDistro %s %s" .Values.osDistro $fail) }}{{ end -}}
{{- if ne .Values.authWebhook "none" }}{{ fail (printf "authWebhook %s %s" .Values.authWebhook $fail) }}{{ end -}}
{{- with .Values.addons -}}
{{- if .enabled -}}
{{- if and .cni.enabled (ne .cni.type "calico") }}{{ fail (printf "addons.cni.type %s %s" .cni.type $fail) }}{{ end -}}
{{- range $path := list "openstack.csiManila" "openstack.k8sKeystoneAuth" "amdGPUOperator" "intelDevicePlugin" "certManager" "reloader" "csi.cephfs" "ingress" -}}
{{- $node := $.Values.addons -}}
{{- range splitList "." $path }}{{ $node = index (default dict $node) . }}{{ end -}}
{{- if and (not (hasPrefix "openstack." $path)) (dig "enabled" false (default dict $node)) }}{{ fail (printf "addons.%s %s" $path $fail) }}{{ end -}}
{{- if and (hasPrefix "openstack." $path) $.Values.addons.openstack.enabled (dig "enabled" false (default dict $node)) }}{{ fail (printf "addons.%s %s" $path $fail) }}{{ end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
