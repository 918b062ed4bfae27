import { describe, expect, it } from 'vitest';
import { artifactSource, chartSource } from '../../src/tools/artifacts.js';
import { cacheVersion, defaultCacheRoot, selectCache } from '../../src/tools/cache.js';
import { parseChecksumFile } from '../../src/tools/checksum.js';

const HASH = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

describe('artifactSource', () => {
  it('maps upstream locations', () => {
    expect(artifactSource({ kind: 'helm', version: 'v3.19.0', os: 'linux', arch: 'amd64' })).toEqual({
      url: 'https://get.helm.sh/helm-v3.19.0-linux-amd64.tar.gz',
      checksumUrl: 'https://get.helm.sh/helm-v3.19.0-linux-amd64.tar.gz.sha256sum',
      checksumName: 'helm-v3.19.0-linux-amd64.tar.gz',
      fileName: 'helm-v3.19.0-linux-amd64.tar.gz',
    });
    expect(artifactSource({ kind: 'k3s', version: 'v1.34.8+k3s1' })).toMatchObject({
      url: 'https://github.com/k3s-io/k3s/releases/download/v1.34.8%2Bk3s1/k3s',
      checksumUrl: 'https://github.com/k3s-io/k3s/releases/download/v1.34.8%2Bk3s1/sha256sum-amd64.txt',
      checksumName: 'k3s',
    });
    expect(artifactSource({ kind: 'k3s', version: 'v1.34.8+k3s1', arch: 'arm64' }).checksumName).toBe('k3s-arm64');
    expect(artifactSource({ kind: 'manifest', component: 'capi', version: 'v1.14.0' }).url).toBe(
      'https://github.com/kubernetes-sigs/cluster-api/releases/download/v1.14.0/cluster-api-components.yaml',
    );
    expect(artifactSource({ kind: 'manifest', component: 'orc', version: 'v2.6.0' }).url).toBe(
      'https://github.com/k-orc/openstack-resource-controller/releases/download/v2.6.0/install.yaml',
    );
    expect(artifactSource({ kind: 'manifest', component: 'capo', version: 'v0.14.7' }).url).toBe(
      'https://github.com/kubernetes-sigs/cluster-api-provider-openstack/releases/download/v0.14.7/infrastructure-components.yaml',
    );
  });

  it('keeps the upstream layout under a mirror base URL', () => {
    const m = {
      binaries: 'http://127.0.0.1:9/bin/',
      manifests: 'http://127.0.0.1:9/m',
      charts: 'http://127.0.0.1:9/charts/',
    };
    expect(artifactSource({ kind: 'helm', version: 'v3.19.0', os: 'linux', arch: 'amd64' }, m).url).toBe(
      'http://127.0.0.1:9/bin/helm-v3.19.0-linux-amd64.tar.gz',
    );
    expect(artifactSource({ kind: 'manifest', component: 'capo', version: 'v0.14.7' }, m).url).toBe(
      'http://127.0.0.1:9/m/kubernetes-sigs/cluster-api-provider-openstack/releases/download/v0.14.7/infrastructure-components.yaml',
    );
    expect(chartSource('janitor', m)).toEqual({
      repo: 'http://127.0.0.1:9/charts',
      chart: 'cluster-api-janitor-openstack',
    });
    expect(chartSource('janitor')).toEqual({
      repo: 'https://azimuth-cloud.github.io/cluster-api-janitor-openstack',
      chart: 'cluster-api-janitor-openstack',
    });
    expect(chartSource('certManager').repo).toBe('https://charts.jetstack.io');
  });
});

describe('parseChecksumFile', () => {
  it('finds the named file among many, in text and binary mode', () => {
    expect(parseChecksumFile(`${OTHER}  k3s-airgap.tar\n${HASH}  k3s\n`, 'k3s')).toBe(HASH);
    expect(parseChecksumFile(`${HASH} *dist/k3s\n`, 'k3s')).toBe(HASH);
  });
  it('accepts a bare hash file and rejects files that do not list the name', () => {
    expect(parseChecksumFile(`${HASH.toUpperCase()}\n`, 'x')).toBe(HASH);
    expect(() => parseChecksumFile(`${HASH}  other\n`, 'k3s')).toThrow(/no sha256 for k3s/);
  });
});

describe('cache selection', () => {
  it('keeps +build metadata distinct in tool-cache keys', () => {
    expect(cacheVersion('v1.34.8+k3s1')).toBe('1.34.8-k3s1');
  });
  it('uses the runner tool cache on a runner and XDG_CACHE_HOME otherwise', () => {
    expect(selectCache({ RUNNER_TOOL_CACHE: '/opt/hostedtoolcache' }).kind).toBe('runner');
    expect(selectCache({}).kind).toBe('local');
    expect(defaultCacheRoot({ XDG_CACHE_HOME: '/x' })).toBe('/x/capi-mgmt');
  });
});
