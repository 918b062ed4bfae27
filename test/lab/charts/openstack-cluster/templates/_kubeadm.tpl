{{/*
kubeadm config content shared by the KubeadmControlPlane and the KubeadmConfigTemplates. Each
fragment is YAML text, parsed and merged with osc.mergeAll (lists concatenated in fragment order).
A KubeadmConfigTemplate's name hashes the merged spec, so the data here (file contents, order of
files and commands) must equal upstream's exactly.
*/}}

{{/* kubelet node-labels "k=v,..." sorted by key. Takes a map. */}}
{{- define "osc.kubeadm.nodeLabels" -}}
{{- $labels := . -}}
{{- $pairs := list -}}
{{- range $key := keys $labels | sortAlpha -}}
{{- $pairs = append $pairs (printf "%s=%v" $key (index $labels $key)) -}}
{{- end -}}
{{- toYaml (dict "nodeRegistration" (dict "kubeletExtraArgs" (dict "node-labels" (join "," $pairs)))) -}}
{{- end -}}

{{/* Extra CAs on the nodes. */}}
{{- define "osc.kubeadm.trustedCAs" -}}
{{- with .Values.trustedCAs }}
files:
{{- range $name, $pem := . }}
  - path: /usr/local/share/ca-certificates/{{ $name }}.crt
    content: |
      {{- nindent 6 $pem }}
    owner: root:root
    permissions: "0644"
{{- end }}
preKubeadmCommands:
  - update-ca-certificates
{{- end }}
{{- end -}}

{{/* One containerd hosts.toml. Takes (list registry spec); spec is a URL list or {upstream, mirrors}. */}}
{{- define "osc.kubeadm.hostsToml" -}}
{{- $registry := index . 0 -}}
{{- $spec := index . 1 -}}
{{- $upstream := printf "https://%s" (eq $registry "docker.io" | ternary "registry-1.docker.io" $registry) -}}
{{- $mirrors := $spec -}}
{{- if kindIs "map" $spec -}}
{{- $upstream = dig "upstream" $upstream $spec -}}
{{- $mirrors = dig "mirrors" list $spec -}}
{{- end -}}
{{- with $upstream }}
server = "{{ . }}"
{{- end }}
{{- range $mirror := $mirrors -}}
{{- $m := kindIs "map" $mirror | ternary $mirror (dict "url" $mirror) -}}
{{- $url := dig "url" "" $m | required "unable to determine mirror url" -}}
{{- $caps := dig "capabilities" list $m | default (list "pull" "resolve") -}}
{{- $quoted := list -}}
{{- range $caps }}{{ $quoted = append $quoted (printf "\"%s\"" (toString .)) }}{{ end }}
[host."{{ $url }}"]
capabilities = [{{ join ", " $quoted }}]
skip_verify = {{ dig "skipVerify" false $m | ternary "true" "false" }}
override_path = {{ dig "overridePath" true $m | ternary "true" "false" }}
{{- end }}
{{- end -}}

{{/* containerd: include directories, registry mirrors, registry credentials. */}}
{{- define "osc.kubeadm.containerd" -}}
{{- $keep := "# This file is created by the capi-helm-chart to ensure that its parent directory exists" -}}
files:
  - path: /etc/containerd/conf.d/.keepdir
    content: |
      {{ $keep }}
    owner: root:root
    permissions: "0644"
  - path: /etc/containerd/certs.d/.keepdir
    content: |
      {{ $keep }}
    owner: root:root
    permissions: "0644"
{{- range $registry, $spec := .Values.registryMirrors }}
  - path: /etc/containerd/certs.d/{{ $registry }}/hosts.toml
    content: |
      {{- include "osc.kubeadm.hostsToml" (list $registry $spec) | nindent 6 }}
    owner: root:root
    permissions: "0644"
{{- end }}
{{- if .Values.registryAuth }}
  - path: /etc/containerd/conf.d/auth.toml
    contentFrom:
      secret:
        name: {{ include "osc.name" (list . "containerd-auth") }}
        key: "auth.toml"
    owner: root:root
    permissions: "0644"
{{- end }}
preKubeadmCommands:
  - |
      /usr/bin/bash -s <<EOF
      grep -q '\[plugins."io.containerd.grpc.v1.cri".registry\]' /etc/containerd/config.toml && exit
      cat <<CONTENT >> /etc/containerd/config.toml
      [plugins."io.containerd.grpc.v1.cri".registry]
        config_path = "/etc/containerd/certs.d"
      CONTENT
      systemctl restart containerd
      EOF
{{- end -}}

{{/* apt packages. */}}
{{- define "osc.kubeadm.packages" -}}
{{- with .Values.additionalPackages }}
preKubeadmCommands:
  - apt update -y
  - apt install -y {{ join " " . }}
{{- end }}
{{- end -}}

{{/* What every node gets, merged with a user kubeadmConfigSpec. Takes (list $ spec); returns YAML. */}}
{{- define "osc.kubeadm.common" -}}
{{- $ctx := index . 0 -}}
{{- include "osc.mergeAll" (list
  (include "osc.kubeadm.trustedCAs" $ctx | fromYaml)
  (include "osc.kubeadm.containerd" $ctx | fromYaml)
  (include "osc.kubeadm.packages" $ctx | fromYaml)
  (default dict (index . 1))
) -}}
{{- end -}}

{{/* A node group's KubeadmConfigTemplate spec (YAML, the hash input). Takes (list $ group). */}}
{{- define "osc.ng.kct.spec" -}}
{{- $ctx := index . 0 -}}
{{- $group := index . 1 -}}
{{- $labels := dict (printf "%s/node-group" $ctx.Values.projectPrefix) $group.name -}}
{{- range $k, $v := default dict $group.nodeLabels }}{{ $_ := set $labels $k $v }}{{ end -}}
{{- include "osc.mergeAll" (list
  (dict "joinConfiguration" (include "osc.kubeadm.nodeLabels" $labels | fromYaml))
  (include "osc.kubeadm.common" (list $ctx $group.kubeadmConfigSpec) | fromYaml)
) -}}
{{- end -}}

{{- define "osc.ng.kct.name" -}}
{{- include "osc.name" (list (index . 0) (index . 1).name) }}-{{ include "osc.ng.kct.spec" . | sha256sum | trunc 8 }}
{{- end -}}

{{/* Control plane only: etcd (and its block device), admission configuration, kube-proxy. */}}
{{- define "osc.kubeadm.etcd" -}}
{{- $dir := .Values.etcd.dataDir -}}
clusterConfiguration:
  etcd:
    local:
      dataDir: {{ $dir }}
      extraArgs: {{ toYaml .Values.etcd.extraArgs | nindent 8 }}
{{- if .Values.etcd.blockDevice }}
initConfiguration:
  nodeRegistration:
    ignorePreflightErrors:
      - diravailable-{{ replace "/" "-" $dir }}
joinConfiguration:
  nodeRegistration:
    ignorePreflightErrors:
      - diravailable-{{ replace "/" "-" $dir }}
diskSetup:
  filesystems:
    - device: /dev/disk/openstack/by-tag/etcd
      filesystem: ext4
      label: etcd_disk
mounts:
  - - LABEL=etcd_disk
    - {{ $dir }}
{{- end }}
{{- end -}}

{{/* etcd encryption at rest; the key comes from the Secret <release>-etcd-key (not made here). */}}
{{- define "osc.kubeadm.etcdEncryption" -}}
{{- with .Values.etcd.encryption }}{{ if .enabled }}
{{- $key := lookup "v1" "Secret" $.Release.Namespace (printf "%s-etcd-key" $.Release.Name) }}
preKubeadmCommands:
  - mkdir -p /etc/kubernetes/enc
  - mkdir -p /etc/kubernetes/patches
initConfiguration:
  patches:
    directory: /etc/kubernetes/patches
joinConfiguration:
  patches:
    directory: /etc/kubernetes/patches
clusterConfiguration:
  apiServer:
    extraArgs:
      encryption-provider-config: /etc/kubernetes/enc/enc.yaml
files:
  - path: /etc/kubernetes/patches/kube-apiserver1+strategic.yaml
    permissions: "0644"
    owner: root:root
    content: |
      spec:
        containers:
        - name: kube-apiserver
          volumeMounts:
          - mountPath: /etc/kubernetes/enc
            name: kube-enc
            readOnly: true
        volumes:
        - hostPath:
            path: /etc/kubernetes/enc
            type: DirectoryOrCreate
          name: kube-enc
  - path: /etc/kubernetes/enc/enc.yaml
    content: |
      apiVersion: apiserver.config.k8s.io/v1
      kind: EncryptionConfiguration
      resources:
        - resources:
            {{- toYaml .resources | nindent 12 }}
          providers:
            - {{ .provider }}:
                keys:
                  - name: key1
                    secret: {{ dig "data" "key" "" (default dict $key) }}
            - identity: {}
    owner: root:root
    permissions: "0644"
{{- end }}{{ end }}
{{- end -}}

{{- define "osc.kubeadm.admission" -}}
files:
  - path: /etc/kubernetes/admission/configuration.yaml
    contentFrom:
      secret:
        name: {{ include "osc.name" (list . "admission-configuration") }}
        key: admission-configuration.yaml
    owner: root:root
    permissions: "0644"
clusterConfiguration:
  apiServer:
    extraArgs:
      admission-control-config-file: /etc/kubernetes/admission/configuration.yaml
    extraVolumes:
      - name: admission-configuration
        hostPath: /etc/kubernetes/admission
        mountPath: /etc/kubernetes/admission
        readOnly: true
        pathType: Directory
{{- end -}}

{{- define "osc.kubeadm.oidc" -}}
{{- with .Values.oidc }}{{ if .issuerUrl }}
clusterConfiguration:
  apiServer:
    extraArgs:
      oidc-issuer-url: {{ quote .issuerUrl }}
      oidc-client-id: {{ required "clientId is required for OIDC" .clientId | quote }}
      oidc-username-claim: {{ quote .usernameClaim }}
      oidc-username-prefix: {{ quote .usernamePrefix }}
      oidc-groups-claim: {{ quote .groupsClaim }}
      oidc-groups-prefix: {{ quote .groupsPrefix }}
      oidc-signing-algs: {{ quote .signingAlgs }}
{{- end }}{{ end }}
{{- end -}}

{{/* kube-proxy settings as a file appended to kubeadm's configuration. */}}
{{- define "osc.kubeadm.kubeProxy" -}}
{{- with .Values.controlPlane.kubeadmConfigSpec.kubeProxyConfiguration }}
files:
  - path: /run/kubeadm/kube-proxy-configuration.yaml
    content: |
      ---
      apiVersion: kubeproxy.config.k8s.io/v1alpha1
      kind: KubeProxyConfiguration
      {{- toYaml . | nindent 6 }}
    owner: root:root
    permissions: "0644"
preKubeadmCommands:
  - cat /run/kubeadm/kube-proxy-configuration.yaml >> /run/kubeadm/kubeadm.yaml
{{- end }}
{{- end -}}

{{/* The KubeadmControlPlane's kubeadmConfigSpec (YAML). */}}
{{- define "osc.cp.kubeadmConfigSpec" -}}
{{- $labels := dict -}}
{{- with .Values.controlPlane.nodeLabels -}}
{{- $reg := include "osc.kubeadm.nodeLabels" . | fromYaml -}}
{{- $labels = dict "initConfiguration" $reg "joinConfiguration" $reg -}}
{{- end -}}
{{- $spec := include "osc.mergeAll" (list
  $labels
  (include "osc.kubeadm.oidc" . | fromYaml)
  (include "osc.kubeadm.etcd" . | fromYaml)
  (include "osc.kubeadm.etcdEncryption" . | fromYaml)
  (include "osc.kubeadm.admission" . | fromYaml)
  (include "osc.kubeadm.common" (list . .Values.controlPlane.kubeadmConfigSpec) | fromYaml)
  (dict "clusterConfiguration" (dict "apiServer" (dict "extraArgs" (dict "v" (toString .Values.apiServer.logLevel)))))
  (include "osc.kubeadm.kubeProxy" . | fromYaml)
) | fromYaml -}}
{{- toYaml (omit $spec "kubeProxyConfiguration") -}}
{{- end -}}
