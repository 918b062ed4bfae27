/**
 * Every pinned version the tool installs, in one place. The defaults follow
 * azimuth-ops `main` (2026-08), so a site moving off azimuth-config keeps the
 * component set it already runs. An environment may override any of them
 * under `versions:`.
 */
export const DEFAULT_VERSIONS = {
  /** K3s on the seed VM. */
  k3s: 'v1.34.8+k3s1',
  /** The helm CLI used on the runner. */
  helm: 'v3.19.0',
  /** cert-manager chart, on the seed and on the management cluster. */
  certManager: 'v1.21.1',
  /** Cluster API core plus the kubeadm bootstrap and control-plane providers. */
  capi: 'v1.14.0',
  /** Cluster API Provider OpenStack. */
  capo: 'v0.14.7',
  /** OpenStack Resource Controller, which CAPO needs. */
  orc: 'v2.6.0',
  /** cluster-api-addon-provider chart (Manifests and HelmRelease CRDs that Magnum uses). */
  addonProvider: '0.13.1',
  /** cluster-api-janitor-openstack chart. */
  janitor: '0.15.0',
  /** The openstack-cluster chart that describes the HA management cluster. */
  openstackClusterChart: '0.27.0',
  /** Velero chart. */
  velero: '12.1.0',
  /** velero-plugin-for-aws image tag. */
  veleroAwsPlugin: 'v1.14.2',
} as const;

export type ComponentName = keyof typeof DEFAULT_VERSIONS;

/** Kubernetes version of the HA management cluster (azimuth-config's `ha` mixin). */
export const DEFAULT_KUBERNETES_VERSION = 'v1.33.10';
