/**
 * The one table of everything capi-mgmt downloads: where it lives upstream,
 * where it lives on a mirror, how it is verified and which `versions:` pin
 * picks its version. The toolbox, the component sets, the schema's defaults
 * and the lab's download mirror all read it, so adding a component is a row
 * here. It is data only, so the model can use it; `src/tools/sources.ts`
 * turns a row into URLs.
 *
 * A mirror keeps the upstream path layout under its own base URL
 * (`mirrors.binaries`, `mirrors.manifests`); one Helm repository given as
 * `mirrors.charts` replaces every upstream chart repository.
 */
import type { ComponentName } from './versions.js';

export interface Mirrors {
  binaries?: string;
  manifests?: string;
  charts?: string;
}

/**
 * A file on a release page. `path` and `checksum` are templates under the
 * base URL: `{version}` (the pin as written), `{tag}` (the pin as GitHub
 * spells it in URLs: `+` encoded), `{os}`, `{arch}` (Go's names) and
 * `{archSuffix}` (empty for amd64, else `-<arch>`).
 */
export interface FileSource {
  kind: 'binary' | 'manifest';
  /** The `versions:` key that pins it. */
  pin: ComponentName;
  /** Which `mirrors:` base URL replaces `upstream`. */
  mirror: 'binaries' | 'manifests';
  upstream: string;
  path: string;
  /**
   * A published sha256 list beside the file, and the name it lists the file
   * under. Upstream publishes none for provider manifests: those are fetched
   * over TLS from the release page and checked by parsing, not by digest.
   */
  checksum?: { path: string; name: string };
}

/** A chart in a Helm repository; helm itself fetches and verifies it. */
export interface ChartSource {
  kind: 'chart';
  pin: ComponentName;
  /** The upstream Helm repository URL. */
  upstream: string;
  /** The chart's name in that repository and on a mirror repository. */
  chart: string;
}

export type Source = FileSource | ChartSource;

const GITHUB = 'https://github.com';

export const SOURCES = {
  k3s: {
    kind: 'binary',
    pin: 'k3s',
    mirror: 'binaries',
    upstream: GITHUB,
    path: 'k3s-io/k3s/releases/download/{tag}/k3s{archSuffix}',
    checksum: { path: 'k3s-io/k3s/releases/download/{tag}/sha256sum-{arch}.txt', name: 'k3s{archSuffix}' },
  },
  helm: {
    kind: 'binary',
    pin: 'helm',
    mirror: 'binaries',
    // helm is published on get.helm.sh, not on GitHub releases.
    upstream: 'https://get.helm.sh',
    path: 'helm-{version}-{os}-{arch}.tar.gz',
    checksum: { path: 'helm-{version}-{os}-{arch}.tar.gz.sha256sum', name: 'helm-{version}-{os}-{arch}.tar.gz' },
  },
  capi: {
    kind: 'manifest',
    pin: 'capi',
    mirror: 'manifests',
    upstream: GITHUB,
    path: 'kubernetes-sigs/cluster-api/releases/download/{tag}/cluster-api-components.yaml',
  },
  orc: {
    kind: 'manifest',
    pin: 'orc',
    mirror: 'manifests',
    upstream: GITHUB,
    path: 'k-orc/openstack-resource-controller/releases/download/{tag}/install.yaml',
  },
  capo: {
    kind: 'manifest',
    pin: 'capo',
    mirror: 'manifests',
    upstream: GITHUB,
    path: 'kubernetes-sigs/cluster-api-provider-openstack/releases/download/{tag}/infrastructure-components.yaml',
  },
  certManager: { kind: 'chart', pin: 'certManager', upstream: 'https://charts.jetstack.io', chart: 'cert-manager' },
  addonProvider: {
    kind: 'chart',
    pin: 'addonProvider',
    upstream: 'https://azimuth-cloud.github.io/cluster-api-addon-provider',
    chart: 'cluster-api-addon-provider',
  },
  janitor: {
    kind: 'chart',
    pin: 'janitor',
    upstream: 'https://azimuth-cloud.github.io/cluster-api-janitor-openstack',
    chart: 'cluster-api-janitor-openstack',
  },
  openstackCluster: {
    kind: 'chart',
    pin: 'openstackClusterChart',
    upstream: 'https://azimuth-cloud.github.io/capi-helm-charts',
    chart: 'openstack-cluster',
  },
  velero: {
    kind: 'chart',
    pin: 'velero',
    upstream: 'https://vmware-tanzu.github.io/helm-charts',
    chart: 'velero',
  },
} as const satisfies Record<string, Source>;

export type SourceId = keyof typeof SOURCES;
type IdsOf<K extends Source['kind']> = {
  [I in SourceId]: (typeof SOURCES)[I]['kind'] extends K ? I : never;
}[SourceId];
export type ManifestSourceId = IdsOf<'manifest'>;
export type ChartSourceId = IdsOf<'chart'>;
export type BinarySourceId = IdsOf<'binary'>;
