/** The cluster layer's chart values: every `cluster.*` setting, the way azimuth-ops sets it, and the chart's traps. */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { testDesired } from '../helpers/desired.js';
import {
  ClusterValuesError,
  clusterValues,
  KNOWN_AFTER_SEED,
  mergeValues,
  type CloudFacts,
  type SeedFacts,
  type Values,
} from '../../src/layers/cluster/values.js';
import { cloudEntry } from '../../src/openstack/connection.js';

const SEED: SeedFacts = {
  networkId: 'net-seed',
  keypairName: 'capi-mgmt-test-seed',
  flavorName: 'm1.large',
  externalNetworkId: 'net-public',
};
const CLOUD: CloudFacts = {
  entry: {
    auth: {
      auth_url: 'https://id.example/v3',
      application_credential_id: 'ac-id',
      application_credential_secret: '0123456789',
    },
    region_name: 'RegionOne',
    auth_type: 'v3applicationcredential',
  },
  projectId: 'proj-1',
};
const IMAGE = { machineImage: { name: 'ubuntu-jammy-kube-v1.33.10' } };

const build = (
  cluster: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
  seed = SEED,
  cloud = CLOUD,
) => clusterValues(testDesired('test', { cluster: { ...IMAGE, ...cluster }, ...extra }), seed, cloud);

/** The value at a dotted path (`[n]` for list items). */
function at(values: Values, p: string): unknown {
  let cur: unknown = values;
  for (const seg of p.split('.')) {
    const m = /^(.+)\[(\d+)\]$/.exec(seg);
    cur = (cur as Record<string, unknown> | undefined)?.[m ? m[1]! : seg];
    if (m) cur = (cur as unknown[] | undefined)?.[Number(m[2])];
  }
  return cur;
}

describe('cluster values', () => {
  it('maps the defaults as azimuth does for capi-mgmt', () => {
    const { values, unknownPaths, notes } = build();
    expect(unknownPaths).toEqual([]);
    expect(notes).toEqual([]);
    const expected: Record<string, unknown> = {
      'clouds.openstack.auth.project_id': 'proj-1',
      'clouds.openstack.auth.application_credential_secret': '0123456789',
      'clouds.openstack.region_name': 'RegionOne',
      kubernetesVersion: 'v1.33.10',
      machineImage: 'ubuntu-jammy-kube-v1.33.10',
      machineImageId: undefined,
      machineSSHKeyName: 'capi-mgmt-test-seed',
      'clusterNetworking.internalNetwork.networkFilter': { id: 'net-seed' },
      'clusterNetworking.externalNetworkId': 'net-public',
      'clusterNetworking.dnsNameservers': undefined,
      kubeNetwork: undefined,
      apiServer: { enableLoadBalancer: true, associateFloatingIP: true },
      'controlPlane.machineCount': 3,
      'controlPlane.machineFlavor': 'm1.large',
      'controlPlane.omitFailureDomain': true,
      'controlPlane.failureDomains': null,
      'controlPlane.machineRootVolume': undefined,
      'nodeGroupDefaults.machineFlavor': 'm1.large',
      'nodeGroupDefaults.failureDomain': null,
      'nodeGroupDefaults.rolloutStrategy': {
        type: 'RollingUpdate',
        rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
      },
      nodeGroups: [{ name: 'md-0', machineCount: 3 }],
      registryMirrors: {},
      trustedCAs: {},
      cloudCACert: undefined,
      'addons.nodeFeatureDiscovery.enabled': false,
      'addons.nvidiaGPUOperator.enabled': false,
      'addons.mellanoxNetworkOperator.enabled': false,
      'addons.ingress.enabled': false,
      'addons.monitoring.enabled': true,
      'addons.monitoring.blackboxExporter.openstackAuthUrlTarget.enabled': true,
      'addons.monitoring.kubePrometheusStack.release.values.prometheus.prometheusSpec.retention': '90d',
      'addons.monitoring.kubePrometheusStack.release.values.alertmanager.alertmanagerSpec.retention': '168h',
      'addons.monitoring.lokiStack.release.values.loki.config.limits_config.retention_period': '744h',
      'addons.monitoring.lokiStack.release.values.loki.persistence.size': '10Gi',
    };
    for (const [p, v] of Object.entries(expected)) expect(at(values, p), p).toEqual(v);
  });

  // setting(s) -> values at paths
  const table: Array<[string, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>?]> = [
    ['image by id', { machineImage: { id: 'img-1' } }, { machineImageId: 'img-1', machineImage: undefined }],
    ['kubernetes version', { kubernetesVersion: 'v1.32.4' }, { kubernetesVersion: 'v1.32.4' }],
    [
      'counts and flavors',
      { controlPlane: { count: 1, flavor: 'm1.medium' }, workers: { count: 2, flavor: 'm1.small' } },
      {
        'controlPlane.machineCount': 1,
        'controlPlane.machineFlavor': 'm1.medium',
        'nodeGroupDefaults.machineFlavor': 'm1.small',
        'nodeGroups[0].machineCount': 2,
      },
    ],
    [
      'workers take the control plane flavor',
      { controlPlane: { flavor: 'm1.xlarge' } },
      { 'nodeGroupDefaults.machineFlavor': 'm1.xlarge' },
    ],
    ['zero workers', { workers: { count: 0 } }, { 'nodeGroups[0].machineCount': 0 }],
    [
      'failure domains',
      { controlPlane: { omitFailureDomain: false, failureDomains: ['az1', 'az2'] }, workers: { failureDomain: 'az1' } },
      {
        'controlPlane.omitFailureDomain': false,
        'controlPlane.failureDomains': ['az1', 'az2'],
        'nodeGroupDefaults.failureDomain': 'az1',
      },
    ],
    [
      'root volumes',
      {
        controlPlane: { rootVolume: { size: 40, type: 'ssd', availabilityZone: 'nova' } },
        workers: { rootVolume: { size: 60 } },
      },
      {
        'controlPlane.machineRootVolume': { diskSize: 40, volumeType: 'ssd', availabilityZone: 'nova' },
        'nodeGroupDefaults.machineRootVolume': { diskSize: 60 },
      },
    ],
    [
      'worker rollout',
      { workers: { maxSurge: 2, maxUnavailable: 1 } },
      { 'nodeGroupDefaults.rolloutStrategy.rollingUpdate': { maxUnavailable: 1, maxSurge: 2 } },
    ],
    [
      'API server: allowedCIDRs spelled as the chart wants',
      { apiServer: { loadBalancerProvider: 'ovn', allowedCidrs: ['203.0.113.0/24'], floatingIp: false } },
      {
        'apiServer.allowedCIDRs': ['203.0.113.0/24'],
        'apiServer.allowedCidrs': undefined,
        'apiServer.loadBalancerProvider': 'ovn',
        'apiServer.associateFloatingIP': false,
        'apiServer.enableLoadBalancer': true,
      },
    ],
    [
      'pod and service CIDRs',
      { network: { podCidr: '10.100.0.0/16', serviceCidr: '10.200.0.0/16' } },
      { kubeNetwork: { pods: { cidrBlocks: ['10.100.0.0/16'] }, services: { cidrBlocks: ['10.200.0.0/16'] } } },
    ],
    [
      'internal network by name',
      { network: { internalNetwork: { name: 'tenant-net' } } },
      { 'clusterNetworking.internalNetwork.networkFilter': { name: 'tenant-net' } },
    ],
    [
      'internal network by id',
      { network: { internalNetwork: { id: 'net-9' } } },
      { 'clusterNetworking.internalNetwork.networkFilter': { id: 'net-9' } },
    ],
    [
      'registry mirrors: only the listed registries change',
      { registryMirrors: { 'docker.io': ['https://mirror.example.org/docker'] } },
      { registryMirrors: { 'docker.io': ['https://mirror.example.org/docker'] } },
    ],
    [
      'trust bundle',
      { trustBundle: { corp: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' } },
      { 'trustedCAs.corp': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' },
    ],
    [
      'monitoring retentions and volume sizes',
      {},
      {
        'addons.monitoring.kubePrometheusStack.release.values.prometheus.prometheusSpec': {
          retention: '30d',
          storageSpec: { volumeClaimTemplate: { spec: { resources: { requests: { storage: '50Gi' } } } } },
        },
        'addons.monitoring.kubePrometheusStack.release.values.alertmanager.alertmanagerSpec': {
          retention: '72h',
          storage: { volumeClaimTemplate: { spec: { resources: { requests: { storage: '2Gi' } } } } },
        },
        'addons.monitoring.lokiStack.release.values.loki': {
          config: { limits_config: { retention_period: '336h' } },
          persistence: { size: '20Gi' },
        },
      },
      {
        monitoring: {
          prometheus: { retention: '30d', volumeSize: '50Gi' },
          alertmanager: { retention: '72h', volumeSize: '2Gi' },
          loki: { retention: '336h', volumeSize: '20Gi' },
        },
      },
    ],
    [
      'cluster.values deep-merged last: maps merge, lists replace, null kept',
      {
        controlPlane: { count: 3 },
        values: {
          controlPlane: { machineCount: 5, healthCheck: { enabled: false } },
          nodeGroups: [{ name: 'big', machineCount: 1 }],
          registryMirrors: null,
          apiServer: { port: 443 },
        },
      },
      {
        'controlPlane.machineCount': 5,
        'controlPlane.machineFlavor': 'm1.large',
        'controlPlane.healthCheck.enabled': false,
        nodeGroups: [{ name: 'big', machineCount: 1 }],
        registryMirrors: null,
        apiServer: { enableLoadBalancer: true, associateFloatingIP: true, port: 443 },
      },
    ],
    [
      'control-plane security group rules: a list becomes the YAML text the chart needs',
      {
        values: {
          clusterNetworking: {
            controlPlaneNodesSecurityGroupRules: [{ name: 'ssh', direction: 'ingress', portRangeMin: 22 }],
          },
        },
      },
      {
        'clusterNetworking.controlPlaneNodesSecurityGroupRules':
          '- name: ssh\n  direction: ingress\n  portRangeMin: 22\n',
        'clusterNetworking.internalNetwork.networkFilter.id': 'net-seed',
      },
    ],
  ];

  it.each(table)('%s', (_name, cluster, expected, extra) => {
    const { values } = build(cluster, extra);
    for (const [p, v] of Object.entries(expected)) expect(at(values, p), p).toEqual(v);
    // Every version stays a string, whatever was set.
    expect(typeof values.kubernetesVersion).toBe('string');
  });

  it('the control-plane rules text parses back to the list', () => {
    const rules = [{ name: 'etcd', direction: 'ingress', protocol: 'tcp', portRangeMin: 2379, portRangeMax: 2380 }];
    const { values } = build({ values: { clusterNetworking: { controlPlaneNodesSecurityGroupRules: rules } } });
    expect(parse(at(values, 'clusterNetworking.controlPlaneNodesSecurityGroupRules') as string)).toEqual(rules);
  });

  it('names settings that have no effect', () => {
    const { notes } = build({
      network: { dnsNameservers: ['1.1.1.1'] },
      apiServer: { loadBalancer: false, allowedCidrs: ['10.0.0.0/8'] },
      controlPlane: { failureDomains: ['az1'] },
    });
    expect(notes).toHaveLength(3);
    expect(notes.join('\n')).toMatch(/cluster\.network\.dnsNameservers has no effect/);
    expect(notes.join('\n')).toMatch(/cluster\.apiServer\.loadBalancerProvider and cluster\.apiServer\.allowedCidrs/);
    expect(notes.join('\n')).toMatch(/cluster\.controlPlane\.failureDomains has no effect while/);
  });

  it('cloud: project injected, the runner-side cacert path dropped, the CA shipped as cloudCACert', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
    const { values } = build({}, {}, SEED, {
      entry: { ...CLOUD.entry, cacert: '/home/runner/ca.pem', verify: true },
      projectId: 'p2',
      caPem: pem,
    });
    const entry = at(values, 'clouds.openstack') as Record<string, unknown>;
    expect(entry.cacert).toBeUndefined();
    expect(entry.verify).toBe(true);
    expect(at(values, 'clouds.openstack.auth.project_id')).toBe('p2');
    expect(values.cloudCACert).toBe(pem);
    // The input is not changed.
    expect(at(CLOUD.entry as Values, 'auth.project_id')).toBeUndefined();
  });

  it('keeps verify: false from the entry', () => {
    const { values } = build({}, {}, SEED, { entry: { ...CLOUD.entry, verify: false }, projectId: 'p' });
    expect(at(values, 'clouds.openstack.verify')).toBe(false);
    expect(values.cloudCACert).toBeUndefined();
  });

  it('reports the credential paths as secrets, and registryAuth when values set it', () => {
    expect(build().secretPaths).toEqual([['clouds', 'openstack', 'auth', 'application_credential_secret']]);
    const pw = build({ values: { registryAuth: { 'docker.io': { username: 'u', password: 'p' } } } }, {}, SEED, {
      entry: { auth: { auth_url: 'https://id/v3', username: 'demo', password: 'pw' } },
      projectId: 'p',
    });
    expect(pw.secretPaths).toEqual([['clouds', 'openstack', 'auth', 'password'], ['registryAuth']]);
  });

  it('before the seed exists: placeholders, and the paths that wait for it', () => {
    const r = build({}, {}, {});
    expect(r.values.machineSSHKeyName).toBe(KNOWN_AFTER_SEED);
    expect(at(r.values, 'controlPlane.machineFlavor')).toBe(KNOWN_AFTER_SEED);
    expect(r.unknownPaths).toEqual([
      ['machineSSHKeyName'],
      ['clusterNetworking', 'internalNetwork', 'networkFilter', 'id'],
      ['controlPlane', 'machineFlavor'],
      ['nodeGroupDefaults', 'machineFlavor'],
    ]);
    expect(at(r.values, 'clusterNetworking.externalNetworkId')).toBeUndefined();
    // Set explicitly, nothing waits for the seed but its keypair.
    const set = build(
      { controlPlane: { flavor: 'a' }, network: { internalNetwork: { id: 'n' } } },
      {},
      { keypairName: 'k' },
    );
    expect(set.unknownPaths).toEqual([]);
  });

  it('every problem at once: a numeric version anywhere, no image, a rollout that cannot move', () => {
    let err: unknown;
    try {
      clusterValues(
        testDesired('test', {
          cluster: {
            workers: { maxSurge: 0, maxUnavailable: 0 },
            values: {
              controlPlane: { kubernetesVersion: 1.3 },
              nodeGroups: [{ name: 'md-0', kubernetesVersion: 1.33 }],
            },
          },
        }),
        SEED,
        CLOUD,
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ClusterValuesError);
    const problems = (err as ClusterValuesError).problems;
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^cluster\.workers: maxSurge and maxUnavailable are both 0/);
    expect(problems[1]).toMatch(/^cluster\.values\.controlPlane\.kubernetesVersion: expected a string .* number 1\.3/);
    expect(problems[2]).toMatch(/^cluster\.values\.nodeGroups\[0\]\.kubernetesVersion: expected a string/);
    expect(problems[3]).toMatch(/^cluster\.machineImage: not set/);
  });

  it('an image given only through cluster.values is enough', () => {
    const r = clusterValues(testDesired('test', { cluster: { values: { machineImageId: 'img-7' } } }), SEED, CLOUD);
    expect(r.values.machineImageId).toBe('img-7');
  });

  it('mergeValues does not alias its inputs', () => {
    const over = { a: { list: [1] } };
    const out = mergeValues({ a: { b: 1 } }, over);
    (out.a as { list: number[] }).list.push(2);
    expect(over.a.list).toEqual([1]);
    expect(out).toEqual({ a: { b: 1, list: [1, 2] } });
  });
});

describe('cloudEntry', () => {
  it('reads the entry from a clouds.yaml file as written: numeric secrets and IDs stay text', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cv-'));
    fs.writeFileSync(
      path.join(dir, 'clouds.yaml'),
      'clouds:\n  site:\n    auth:\n      auth_url: https://id/v3\n      application_credential_id: 0123\n      application_credential_secret: 000789\n    verify: false\n',
    );
    const settings = { cloud: 'site', cloudsYamlFile: 'clouds.yaml' };
    expect(cloudEntry(settings, dir)).toEqual({
      auth: { auth_url: 'https://id/v3', application_credential_id: '0123', application_credential_secret: '000789' },
      verify: false,
    });
    expect(() => cloudEntry({ ...settings, cloud: 'other' }, dir)).toThrow(/no cloud "other"/);
  });
});

describe('cluster values ownership', () => {
  it('shares no object with the configuration', () => {
    const d = testDesired('test', {
      cluster: { ...IMAGE, registryMirrors: { 'docker.io': ['https://m.example'] }, trustBundle: { a: 'pem' } },
    });
    const { values } = clusterValues(d, SEED, CLOUD);
    (values.registryMirrors as Record<string, string[]>)['docker.io']!.push('https://other.example');
    (values.trustedCAs as Record<string, string>).b = 'x';
    expect(d.config.cluster.registryMirrors).toEqual({ 'docker.io': ['https://m.example'] });
    expect(d.config.cluster.trustBundle).toEqual({ a: 'pem' });
  });
});
