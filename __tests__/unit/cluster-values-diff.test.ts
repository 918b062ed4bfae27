/** The values diff shown in plans and drift reports: normalised, sorted, secrets never shown. */
import { describe, expect, it } from 'vitest';
import { CHART_DEFAULTS, diffValues, normaliseValues, renderValuesDiff } from '../../src/layers/cluster/values-diff.js';
import { clusterValues } from '../../src/layers/cluster/values.js';
import { testDesired } from '../helpers/desired.js';

const lines = (a: Record<string, unknown>, b: Record<string, unknown>, opts = {}) =>
  renderValuesDiff(diffValues(a, b, opts));

describe('values diff', () => {
  it('equal trees: no lines', () => {
    const v = {
      controlPlane: { machineCount: 3, machineFlavor: 'm1.large' },
      nodeGroups: [{ name: 'md-0', machineCount: 2 }],
    };
    expect(lines(v, structuredClone(v))).toEqual([]);
  });

  it('changes, additions and removals, one per leaf, sorted by path', () => {
    const before = {
      controlPlane: { machineCount: 1, machineFlavor: 'm1.large' },
      apiServer: { loadBalancerProvider: 'amphora' },
      nodeGroups: [{ name: 'md-0', machineCount: 1 }],
    };
    const after = {
      controlPlane: { machineCount: 5, machineFlavor: 'm1.large' },
      apiServer: { allowedCIDRs: ['203.0.113.0/24'] },
      nodeGroups: [{ name: 'md-0', machineCount: 4 }],
      kubeNetwork: { pods: { cidrBlocks: ['10.100.0.0/16'] } },
    };
    expect(lines(before, after)).toEqual([
      '+ apiServer.allowedCIDRs: ["203.0.113.0/24"]',
      '~ apiServer.loadBalancerProvider: "amphora" -> null (chart default)',
      '~ controlPlane.machineCount: 1 -> 5',
      '~ kubeNetwork.pods.cidrBlocks: ["172.16.0.0/13"] (chart default) -> ["10.100.0.0/16"]',
      '~ nodeGroups[0].machineCount: 1 -> 4',
    ]);
  });

  it('lists of a different length change whole; keys with dots are quoted', () => {
    expect(
      lines(
        { registryMirrors: { 'docker.io': ['https://a.example'] } },
        { registryMirrors: { 'docker.io': ['https://a.example', 'https://b.example'] } },
      ),
    ).toEqual(['~ registryMirrors["docker.io"]: ["https://a.example"] -> ["https://a.example","https://b.example"]']);
  });

  it('defaults-insensitive: chart defaults, {} and null-for-null-default equal absence; versions with or without v', () => {
    const azimuthStyle = {
      kubernetesVersion: '1.33.10',
      kubeNetwork: { pods: {}, services: {} },
      etcd: {},
      registryMirrors: {},
      controlPlane: { failureDomains: null, omitFailureDomain: true, machineCount: 3 },
      nodeGroupDefaults: { failureDomain: null },
      apiServer: { enableLoadBalancer: true, associateFloatingIP: true },
      addons: { ingress: { enabled: false } },
    };
    expect(lines(azimuthStyle, { kubernetesVersion: 'v1.33.10' })).toEqual([]);
    expect(normaliseValues(azimuthStyle)).toEqual({ kubernetesVersion: 'v1.33.10' });
  });

  it('a null that deletes a default is a real value, and its removal is shown', () => {
    const [removed] = lines({ registryMirrors: null }, {});
    expect(removed).toMatch(
      /^~ registryMirrors: null -> \{"docker\.io":\["https:\/\/quay\.io\/v2\/azimuth\/docker\.io"\].*\(chart default\)$/,
    );
    expect(lines({}, { registryMirrors: null })[0]).toMatch(/^~ registryMirrors: \{.*\(chart default\) -> null$/);
    // Where the chart has no default, plain additions and removals.
    expect(lines({ etcd: { blockDevice: { size: 5 } } }, {})).toEqual(['- etcd.blockDevice.size: 5']);
  });

  it('a value set to or back to the chart default shows that default', () => {
    expect(lines({ controlPlane: { machineCount: 5 } }, { controlPlane: { machineCount: 3 } })).toEqual([
      '~ controlPlane.machineCount: 5 -> 3 (chart default)',
    ]);
    expect(lines({}, { controlPlane: { machineCount: 1 } })).toEqual([
      '~ controlPlane.machineCount: 3 (chart default) -> 1',
    ]);
  });

  it('never shows a secret, even changed, added or removed', () => {
    const secret = 'super-secret-value-123';
    const other = 'another-secret-456';
    const before = {
      clouds: { openstack: { auth: { auth_url: 'https://a/v3', application_credential_secret: secret } } },
      registryAuth: { 'docker.io': { username: 'u', password: secret } },
    };
    const after = {
      clouds: {
        openstack: { auth: { auth_url: 'https://b/v3', application_credential_secret: other, password: other } },
      },
    };
    const out = lines(before, after, {
      secretPaths: [['clouds', 'openstack', 'auth', 'application_credential_secret']],
    });
    expect(out).toEqual([
      '~ clouds.openstack.auth.application_credential_secret: (sensitive) -> (sensitive)',
      '~ clouds.openstack.auth.auth_url: "https://a/v3" -> "https://b/v3"',
      '+ clouds.openstack.auth.password: (sensitive)',
      '- registryAuth: (sensitive)',
    ]);
    expect(out.join('\n')).not.toMatch(/secret-value|another-secret/);
  });

  it('secret paths from the caller cover whole subtrees', () => {
    const out = lines(
      { custom: { token: { a: 'x1-hidden' } } },
      { custom: { token: { a: 'x2-hidden' } } },
      {
        secretPaths: [['custom']],
      },
    );
    expect(out).toEqual(['~ custom: (sensitive) -> (sensitive)']);
  });

  it('masks secret text the redactor knows anywhere in a rendered value', () => {
    const out = lines(
      { x: 'https://mirror.example/a' },
      { x: 'https://user:tok-9876@mirror.example/a' },
      {
        redact: (t: string) => t.replaceAll('tok-9876', '(sensitive)'),
      },
    );
    expect(out).toEqual(['~ x: "https://mirror.example/a" -> "https://user:(sensitive)@mirror.example/a"']);
  });

  it('long and multi-line text shows its size and a digest', () => {
    const pem = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(64)}\n-----END CERTIFICATE-----\n`;
    const [line] = lines({}, { trustedCAs: { corp: pem } });
    expect(line).toMatch(/^\+ trustedCAs\.corp: \(text, 3 lines, \d+ characters, sha256 [0-9a-f]{12}\)$/);
    expect(line).not.toContain('AAAA');
  });

  it('the desired values of an environment against the same values: no-op; a count change: one line', () => {
    const seed = { networkId: 'n', keypairName: 'k', flavorName: 'm1.large' };
    const cloud = { entry: { auth: { auth_url: 'https://id/v3', password: 'pw-xyz-1' } }, projectId: 'p' };
    const mk = (count: number) =>
      clusterValues(
        testDesired('t', { cluster: { machineImage: { name: 'img' }, controlPlane: { count } } }),
        seed,
        cloud,
      );
    const one = mk(1);
    expect(diffValues(one.values, mk(1).values, { secretPaths: one.secretPaths })).toEqual([]);
    expect(lines(one.values, mk(3).values, { secretPaths: one.secretPaths })).toEqual([
      '~ controlPlane.machineCount: 1 -> 3 (chart default)',
    ]);
    expect(lines(mk(3).values, mk(5).values)).toEqual(['~ controlPlane.machineCount: 3 (chart default) -> 5']);
  });

  it('the default table is the chart 0.27.0 defaults it claims to be (spot checks)', () => {
    expect(CHART_DEFAULTS.registryMirrors).toEqual({
      'docker.io': ['https://quay.io/v2/azimuth/docker.io'],
      'ghcr.io': ['https://quay.io/v2/azimuth/ghcr.io'],
      'nvcr.io': ['https://quay.io/v2/azimuth/nvcr.io'],
      'quay.io': ['https://quay.io/v2/azimuth/quay.io'],
      'registry.k8s.io': ['https://quay.io/v2/azimuth/registry.k8s.io'],
    });
    expect(lines({ registryMirrors: { 'docker.io': ['https://quay.io/v2/azimuth/docker.io'] } }, {})).toEqual([]);
  });
});
