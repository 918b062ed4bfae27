/**
 * Where every downloaded thing lives, upstream or on a mirror. A mirror
 * keeps the upstream path layout under its own base URL, so one function
 * maps (artifact, version, mirrors) to a URL.
 */
import { DEFAULT_MIRRORS } from '../model/versions.js';

export interface Mirrors {
  binaries?: string;
  manifests?: string;
  charts?: string;
}

export type ManifestComponent = 'capi' | 'orc' | 'capo';
export type ChartComponent = 'certManager' | 'addonProvider' | 'janitor';

export type Artifact =
  | { kind: 'helm'; version: string; os?: string; arch?: string }
  | { kind: 'k3s'; version: string; arch?: string }
  | { kind: 'manifest'; component: ManifestComponent; version: string };

export interface ArtifactSource {
  url: string;
  /** A file listing sha256 sums (binaries only; upstream publishes none for manifests). */
  checksumUrl?: string;
  /** The name the checksum file lists the artifact under. */
  checksumName?: string;
  /** File name to keep in the cache. */
  fileName: string;
}

/** helm is published on get.helm.sh, not on GitHub releases. */
export const UPSTREAM_HELM_BASE = 'https://get.helm.sh';

const MANIFEST_PATHS: Record<ManifestComponent, { repo: string; file: string }> = {
  capi: { repo: 'kubernetes-sigs/cluster-api', file: 'cluster-api-components.yaml' },
  orc: { repo: 'k-orc/openstack-resource-controller', file: 'install.yaml' },
  capo: { repo: 'kubernetes-sigs/cluster-api-provider-openstack', file: 'infrastructure-components.yaml' },
};

const trim = (base: string): string => base.replace(/\/+$/, '');

/** `v1.34.8+k3s1` -> `v1.34.8%2Bk3s1`, the way GitHub release URLs spell tags. */
const tag = (v: string): string => encodeURIComponent(v);

/** Node's names to the ones release files use. */
export function goArch(arch: string = process.arch): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm' } as Record<string, string>)[arch] ?? arch;
}

export function goOs(platform: string = process.platform): string {
  return platform === 'win32' ? 'windows' : platform;
}

export function artifactSource(a: Artifact, mirrors: Mirrors = {}): ArtifactSource {
  switch (a.kind) {
    case 'helm': {
      const base = trim(mirrors.binaries ?? UPSTREAM_HELM_BASE);
      const file = `helm-${a.version}-${a.os ?? goOs()}-${a.arch ?? goArch()}.tar.gz`;
      return { url: `${base}/${file}`, checksumUrl: `${base}/${file}.sha256sum`, checksumName: file, fileName: file };
    }
    case 'k3s': {
      // The seed is amd64 unless told otherwise, whatever the runner is.
      const arch = a.arch ?? 'amd64';
      const base = `${trim(mirrors.binaries ?? DEFAULT_MIRRORS.binaries)}/k3s-io/k3s/releases/download/${tag(a.version)}`;
      const file = arch === 'amd64' ? 'k3s' : `k3s-${arch}`;
      return {
        url: `${base}/${file}`,
        checksumUrl: `${base}/sha256sum-${arch}.txt`,
        checksumName: file,
        fileName: 'k3s',
      };
    }
    case 'manifest': {
      const m = MANIFEST_PATHS[a.component];
      const base = trim(mirrors.manifests ?? DEFAULT_MIRRORS.manifests);
      return { url: `${base}/${m.repo}/releases/download/${tag(a.version)}/${m.file}`, fileName: m.file };
    }
  }
}

/** Upstream chart repositories; a `mirrors.charts` repository replaces all of them. */
const UPSTREAM_CHART_REPOS: Record<ChartComponent, { repo: string; chart: string }> = {
  certManager: { repo: DEFAULT_MIRRORS.charts.jetstack, chart: 'cert-manager' },
  addonProvider: {
    repo: `${DEFAULT_MIRRORS.charts.azimuth}/cluster-api-addon-provider`,
    chart: 'cluster-api-addon-provider',
  },
  janitor: {
    repo: `${DEFAULT_MIRRORS.charts.azimuth}/cluster-api-janitor-openstack`,
    chart: 'cluster-api-janitor-openstack',
  },
};

export function chartSource(c: ChartComponent, mirrors: Mirrors = {}): { repo: string; chart: string } {
  const up = UPSTREAM_CHART_REPOS[c];
  return { repo: mirrors.charts ? trim(mirrors.charts) : up.repo, chart: up.chart };
}
