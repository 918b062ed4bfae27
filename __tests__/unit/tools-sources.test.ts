import { describe, expect, it } from 'vitest';
import { DEFAULT_VERSIONS } from '../../src/model/versions.js';
import { chartLocation, fileLocation, filePath, fillTemplate } from '../../src/tools/sources.js';
import { SOURCES } from '../../src/model/sources.js';
import { cacheVersion, defaultCacheRoot, toolCacheFromEnv, openCache } from '../../src/tools/cache.js';
import { parseChecksumFile } from '../../src/tools/checksum.js';
import { testDesired } from '../helpers/desired.js';

const HASH = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

describe('the sources table', () => {
  it('maps upstream locations', () => {
    expect(fileLocation('helm', 'v3.19.0', {}, { os: 'linux', arch: 'amd64' })).toEqual({
      url: 'https://get.helm.sh/helm-v3.19.0-linux-amd64.tar.gz',
      checksum: {
        url: 'https://get.helm.sh/helm-v3.19.0-linux-amd64.tar.gz.sha256sum',
        name: 'helm-v3.19.0-linux-amd64.tar.gz',
      },
      fileName: 'helm-v3.19.0-linux-amd64.tar.gz',
    });
    expect(fileLocation('k3s', 'v1.34.8+k3s1', {}, { arch: 'amd64' })).toEqual({
      url: 'https://github.com/k3s-io/k3s/releases/download/v1.34.8%2Bk3s1/k3s',
      checksum: {
        url: 'https://github.com/k3s-io/k3s/releases/download/v1.34.8%2Bk3s1/sha256sum-amd64.txt',
        name: 'k3s',
      },
      fileName: 'k3s',
    });
    expect(fileLocation('k3s', 'v1.34.8+k3s1', {}, { arch: 'arm64' })).toMatchObject({
      url: 'https://github.com/k3s-io/k3s/releases/download/v1.34.8%2Bk3s1/k3s-arm64',
      checksum: { name: 'k3s-arm64' },
    });
    expect(fileLocation('capi', 'v1.14.0')).toEqual({
      url: 'https://github.com/kubernetes-sigs/cluster-api/releases/download/v1.14.0/cluster-api-components.yaml',
      fileName: 'cluster-api-components.yaml',
    });
    expect(fileLocation('orc', 'v2.6.0').url).toBe(
      'https://github.com/k-orc/openstack-resource-controller/releases/download/v2.6.0/install.yaml',
    );
    expect(fileLocation('capo', 'v0.14.7').url).toBe(
      'https://github.com/kubernetes-sigs/cluster-api-provider-openstack/releases/download/v0.14.7/infrastructure-components.yaml',
    );
    expect(chartLocation('velero')).toEqual({ repo: 'https://vmware-tanzu.github.io/helm-charts', chart: 'velero' });
  });

  it('keeps the upstream layout under a mirror base URL', () => {
    const m = {
      binaries: 'http://127.0.0.1:9/bin/',
      manifests: 'http://127.0.0.1:9/m',
      charts: 'http://127.0.0.1:9/charts/',
    };
    expect(fileLocation('helm', 'v3.19.0', m, { os: 'linux', arch: 'amd64' }).url).toBe(
      'http://127.0.0.1:9/bin/helm-v3.19.0-linux-amd64.tar.gz',
    );
    expect(fileLocation('capo', 'v0.14.7', m).url).toBe(
      'http://127.0.0.1:9/m/kubernetes-sigs/cluster-api-provider-openstack/releases/download/v0.14.7/infrastructure-components.yaml',
    );
    expect(filePath('capo', 'v0.14.7')).toBe(
      'kubernetes-sigs/cluster-api-provider-openstack/releases/download/v0.14.7/infrastructure-components.yaml',
    );
    expect(chartLocation('janitor', m)).toEqual({
      repo: 'http://127.0.0.1:9/charts',
      chart: 'cluster-api-janitor-openstack',
    });
    expect(chartLocation('janitor')).toEqual({
      repo: 'https://azimuth-cloud.github.io/cluster-api-janitor-openstack',
      chart: 'cluster-api-janitor-openstack',
    });
    expect(chartLocation('certManager').repo).toBe('https://charts.jetstack.io');
  });

  it('pins every source to a version the environment can set, with its default from versions.ts', () => {
    for (const [id, s] of Object.entries(SOURCES)) {
      expect(DEFAULT_VERSIONS[s.pin], `${id} pins ${s.pin}`).toBeTypeOf('string');
      expect(testDesired().config.versions[s.pin]).toBe(DEFAULT_VERSIONS[s.pin]);
    }
  });

  it('is the default of the cluster chart repository', () => {
    expect(testDesired().config.cluster.chart.repo).toBe(SOURCES.openstackCluster.upstream);
  });

  it('rejects a path template with an unknown placeholder', () => {
    expect(() => fillTemplate('x/{versoin}/y', 'v1')).toThrow(/unknown placeholder \{versoin\}/);
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
    const onRunner = toolCacheFromEnv({ RUNNER_TOOL_CACHE: '/opt/hostedtoolcache' });
    expect(onRunner).toEqual({ kind: 'runner', dir: '/opt/hostedtoolcache' });
    expect(openCache(onRunner, '/tmp').kind).toBe('runner');
    expect(openCache(toolCacheFromEnv({ XDG_CACHE_HOME: '/x' }), '/tmp').kind).toBe('local');
    expect(defaultCacheRoot({ XDG_CACHE_HOME: '/x' })).toBe('/x/capi-mgmt');
  });
});
