{{/*
OpenStackMachineTemplate specs. Templates are immutable, so each name ends in the first 8 hex digits
of the sha256 of the spec text below: a changed spec makes a new template and CAPI rolls the
machines. The text must stay byte for byte what upstream hashes, or every name (and so every
upgrade decision) differs from a real release: two-space indents from `template:`, scalars as Go
prints them, only serverMetadata quoted, no trailing newline. The control plane's text starts with
one newline (upstream's template leaves it there), a node group's does not.
*/}}

{{/* A root volume or block device's availability zone lines. Takes (list zone indent). */}}
{{- define "osc.mt.zone" -}}
{{- $pad := repeat (index . 1) " " -}}
{{- if index . 0 }}
{{ $pad }}from: Name
{{ $pad }}name: {{ index . 0 }}
{{- else }}
{{ $pad }}from: Machine
{{- end }}
{{- end -}}

{{/* Neutron filter (v1alpha7 spelling accepted) as CAPO v1beta1 wants it, as a map. */}}
{{- define "osc.neutronFilter" -}}
{{- if hasKey . "id" -}}
{{- toYaml (dict "id" .id) -}}
{{- else -}}
{{- $filter := omit . "tags" "tagsAny" "notTags" "notTagsAny" -}}
{{- range $key := list "tags" "tagsAny" "notTags" "notTagsAny" -}}
{{- with index $ $key -}}
{{- $_ := set $filter $key (kindIs "string" . | ternary (splitList "," (toString .)) .) -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "filter" $filter) -}}
{{- end -}}
{{- end -}}

{{/* Machine ports with their network filters converted, as a YAML list. */}}
{{- define "osc.ports" -}}
{{- $ports := list -}}
{{- range $port := . -}}
{{- if and $port.network (not (hasKey $port.network "filter")) -}}
{{- $port = set (deepCopy $port) "network" (include "osc.neutronFilter" $port.network | fromYaml) -}}
{{- end -}}
{{- $ports = append $ports $port -}}
{{- end -}}
{{- toYaml $ports -}}
{{- end -}}

{{/*
The spec text. Takes a dict: ctx ($), machine (controlPlane or the merged node group), devices
(name -> block device), flavorError, imageError.
*/}}
{{- define "osc.mt.spec" -}}
{{- $ctx := .ctx -}}
{{- $m := .machine -}}
template:
  spec:
    identityRef:
      name: {{ include "osc.credentialsSecret" $ctx }}
      cloudName: openstack
    flavor: {{ $m.machineFlavor | required .flavorError }}
{{- with $ctx.Values.machineSSHKeyName }}
    sshKeyName: {{ . }}
{{- end }}
{{- if or $m.machineConfigDrive .devices }}
    configDrive: true
{{- end }}
{{- with $m.machineRootVolume }}{{ if .diskSize }}
    rootVolume:
      sizeGiB: {{ .diskSize }}
{{- with .volumeType }}
      type: {{ . }}
{{- end }}
      availabilityZone:
{{- include "osc.mt.zone" (list .availabilityZone 8) }}
{{- end }}{{ end }}
    image:
{{- if $m.machineImageId }}
      id: {{ $m.machineImageId }}
{{- else if $m.machineImage }}
      filter:
        name: {{ tpl $m.machineImage $ctx }}
{{- else if $ctx.Values.machineImageId }}
      id: {{ $ctx.Values.machineImageId }}
{{- else if $ctx.Values.machineImage }}
      filter:
        name: {{ tpl $ctx.Values.machineImage $ctx }}
{{- else }}
{{- fail .imageError }}
{{- end }}
{{- with .devices }}
    additionalBlockDevices:
{{- range $name, $device := . }}
      - name: {{ $name }}
        sizeGiB: {{ required "size is required for a block device" $device.size }}
        storage:
          type: {{ default "Volume" $device.type }}
          volume:
{{- with $device.volumeType }}
            type: {{ . }}
{{- end }}
            availabilityZone:
{{- include "osc.mt.zone" (list $device.availabilityZone 14) }}
{{- end }}
{{- end }}
{{- with $m.machineNetworking.ports }}
    ports: {{ include "osc.ports" . | nindent 6 }}
{{- end }}
{{- with $m.serverGroupId }}
    serverGroup:
      id: {{ . }}
{{- end }}
{{- with mergeOverwrite (deepCopy (default dict $ctx.Values.machineMetadata)) (default dict $m.machineMetadata) }}
    serverMetadata:
{{- range $key, $value := . }}
      - key: {{ quote $key }}
        value: {{ quote $value }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The control plane's spec text (with its leading newline). */}}
{{- define "osc.cp.mt.spec" -}}
{{- $devices := deepCopy (default dict .Values.controlPlane.additionalBlockDevices) -}}
{{- with .Values.etcd.blockDevice }}{{ $_ := set $devices "etcd" . }}{{ end }}
{{ include "osc.mt.spec" (dict
  "ctx" .
  "machine" .Values.controlPlane
  "devices" $devices
  "flavorError" ".Values.controlPlane.machineFlavor is required"
  "imageError" "One of controlPlane.machineImageId, controlPlane.machineImage, machineImageId or machineImage is required"
) }}
{{- end -}}

{{/* A node group's spec text. Takes (list $ mergedGroup). */}}
{{- define "osc.ng.mt.spec" -}}
{{- $group := index . 1 -}}
{{- include "osc.mt.spec" (dict
  "ctx" (index . 0)
  "machine" $group
  "devices" $group.additionalBlockDevices
  "flavorError" (printf "no flavor specified for node group '%s'" $group.name)
  "imageError" "One of nodeGroupDefaults.machineImageId, nodeGroupDefaults.machineImage, machineImageId or machineImage is required"
) -}}
{{- end -}}

{{/* Template names: <release>-<control-plane|group>-<8 hex>. */}}
{{- define "osc.cp.mt.name" -}}
{{- include "osc.name" (list . "control-plane") }}-{{ include "osc.cp.mt.spec" . | sha256sum | trunc 8 }}
{{- end -}}

{{- define "osc.ng.mt.name" -}}
{{- include "osc.name" (list (index . 0) (index . 1).name) }}-{{ include "osc.ng.mt.spec" . | sha256sum | trunc 8 }}
{{- end -}}

{{/* A node group: the group over a copy of nodeGroupDefaults (sprig mustMerge). Takes (list $ group). */}}
{{- define "osc.nodeGroup" -}}
{{- $group := mustMerge (deepCopy (index . 1)) (deepCopy (index . 0).Values.nodeGroupDefaults) -}}
{{- if not (regexMatch "^[a-z][a-z0-9\\-]+[a-z0-9]$" (toString $group.name)) -}}
{{- fail (printf "Node group name must be at least three characters long and must contain only lower-case alphanumeric characters and dashes (found name: %s)" (toString $group.name)) -}}
{{- end -}}
{{- toYaml $group -}}
{{- end -}}
