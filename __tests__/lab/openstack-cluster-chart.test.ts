/**
 * The lab's openstack-cluster stand-in (test/lab/charts/openstack-cluster), rendered with the lab's
 * helm (`helm template`, nothing installed): the objects, names, labels and annotations of the real
 * chart 0.27.0, its template-name hashes (the reference's test vectors), what renames a template
 * and what does not, its failure messages and value traps.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { labHelm } from '../../test/lab/mirror/lab.js';
import { LAB_CHARTS_DIR } from '../../test/lab/mirror/server.js';

const run = promisify(execFile);
const CHART = join(LAB_CHARTS_DIR, 'openstack-cluster');
const REL = 'capi-mgmt-test';
const IMAGE = '11111111-2222-3333-4444-555555555555';

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string> | null;
  };
  spec?: Record<string, unknown>;
  stringData?: Record<string, string>;
}

type Values = Record<string, unknown>;

let tmp: string;
let helm: string;
let n = 0;

beforeAll(() => {
  helm = labHelm();
  tmp = mkdtempSync(join(tmpdir(), 'capi-mgmt-osc-chart-'));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** `helm template` of the chart with these values (a private file); rejects with helm's stderr. */
async function template(values: Values): Promise<string> {
  const file = join(tmp, `values-${n++}.yaml`);
  writeFileSync(file, stringify(values), { mode: 0o600 });
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: tmp,
    HELM_CACHE_HOME: join(tmp, 'cache'),
    HELM_CONFIG_HOME: join(tmp, 'config'),
    HELM_DATA_HOME: join(tmp, 'data'),
  };
  try {
    const { stdout } = await run(helm, ['template', REL, CHART, '--namespace', 'default', '--values', file], {
      env,
      maxBuffer: 64 << 20,
    });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(err.stderr || err.message, { cause: e });
  }
}

async function render(values: Values): Promise<Obj[]> {
  const docs = parseAllDocuments(await template(values));
  return docs.map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);
}

/** The render must fail; returns helm's message. */
async function renderError(values: Values): Promise<string> {
  const out = await template(values).then(
    () => undefined,
    (e: Error) => e.message,
  );
  if (out === undefined) throw new Error('the render succeeded but was expected to fail');
  return out;
}

const find = (objs: Obj[], kind: string, name: string): Obj => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} in: ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
};
const ofKind = (objs: Obj[], kind: string): Obj[] => objs.filter((o) => o.kind === kind);
const nameOf = (objs: Obj[], kind: string, prefix: string): string => {
  const names = ofKind(objs, kind)
    .map((o) => o.metadata.name)
    .filter((x) => x.startsWith(prefix) && /^-[0-9a-f]{8}$/.test(x.slice(prefix.length)));
  if (names.length !== 1) throw new Error(`expected one ${kind} ${prefix}<hash>, found ${names.join(', ') || 'none'}`);
  return names[0]!;
};
/** The template names a render gives: control-plane OSMT, md-0 OSMT, md-0 KCT. */
const templateNames = (objs: Obj[]) => ({
  cpOsmt: nameOf(objs, 'OpenStackMachineTemplate', `${REL}-control-plane`),
  mdOsmt: nameOf(objs, 'OpenStackMachineTemplate', `${REL}-md-0`),
  mdKct: nameOf(objs, 'KubeadmConfigTemplate', `${REL}-md-0`),
});

const deepMerge = (a: Values, b: Values): Values => {
  const out: Values = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
        ? deepMerge(cur as Values, v as Values)
        : v;
  }
  return out;
};

const CLOUD = {
  auth: {
    auth_url: 'https://keystone.example.org:5000/v3',
    application_credential_id: 'app-cred-id',
    application_credential_secret: 'app-cred-secret',
  },
  region_name: 'RegionOne',
  interface: 'public',
  identity_api_version: 3,
  auth_type: 'v3applicationcredential',
};

/** The reference's minimal values (§3.1). */
const minimal = (flavor = 'm1.medium', key = 'deploy-key'): Values => ({
  clouds: { openstack: CLOUD },
  kubernetesVersion: '1.33.10',
  machineImageId: IMAGE,
  machineSSHKeyName: key,
  controlPlane: { machineCount: 1, machineFlavor: flavor },
  nodeGroupDefaults: { machineFlavor: flavor },
  nodeGroups: [{ name: 'md-0', machineCount: 1 }],
});
const withMinimal = (extra: Values): Values => deepMerge(minimal(), extra);

const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

/** What azimuth-ops' capi_cluster role passes for a capi-mgmt environment (azimuth-capi-mgmt.md §2.4). */
const capiMgmt = (): Values => ({
  clouds: { openstack: { ...CLOUD, auth: { ...CLOUD.auth, project_id: 'project-id' } } },
  cloudCACert: CA,
  kubernetesVersion: 'v1.33.10',
  machineImageId: IMAGE,
  machineSSHKeyName: `${REL}-seed-deploy`,
  clusterNetworking: { internalNetwork: { networkFilter: { id: 'seed-network-id' } }, externalNetworkId: 'ext-net-id' },
  kubeNetwork: { pods: {}, services: {} },
  trustedCAs: {},
  registryAuth: {},
  registryMirrors: {},
  apiServer: { enableLoadBalancer: true, associateFloatingIP: true },
  controlPlane: { machineCount: 3, machineFlavor: 'm1.large', omitFailureDomain: true, failureDomains: null },
  nodeGroupDefaults: {
    failureDomain: null,
    machineFlavor: 'm1.large',
    rolloutStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
  },
  nodeGroups: [{ name: 'md-0', machineCount: 3 }],
  etcd: {},
  addons: {
    nodeFeatureDiscovery: { enabled: false },
    nvidiaGPUOperator: { enabled: false },
    mellanoxNetworkOperator: { enabled: false },
    ingress: {
      enabled: false,
      traefik: { enabled: false },
      nginx: { enabled: true, release: { values: { controller: { allowSnippetAnnotations: true } } } },
    },
    openstack: {
      cloudConfig: { BlockStorage: { 'ignore-volume-az': true } },
      csiCinder: { defaultStorageClass: { availabilityZone: 'nova' } },
    },
    monitoring: {
      enabled: true,
      kubePrometheusStack: {
        release: {
          values: {
            grafana: { 'grafana.ini': { 'auth.anonymous': { enabled: true } } },
            alertmanager: {
              alertmanagerSpec: {
                externalUrl: '',
                retention: '168h',
                storage: { volumeClaimTemplate: { spec: { resources: { requests: { storage: '10Gi' } } } } },
              },
            },
            prometheus: {
              prometheusSpec: {
                externalUrl: '',
                retention: '90d',
                storageSpec: { volumeClaimTemplate: { spec: { resources: { requests: { storage: '10Gi' } } } } },
              },
            },
          },
        },
      },
      lokiStack: {
        release: {
          values: { loki: { config: { limits_config: { retention_period: '744h' } }, persistence: { size: '10Gi' } } },
        },
      },
    },
  },
});

const ADDONS = [
  'cni-calico',
  'etcd-defrag',
  'metrics-server',
  'node-problem-detector',
  'ccm-openstack',
  'csi-cinder',
  'node-feature-discovery',
  'nvidia-gpu-operator',
  'mellanox-network-operator',
];

/** kind apiVersion name, sorted, for whole-render comparisons. */
const inventory = (objs: Obj[]) => objs.map((o) => `${o.kind} ${o.apiVersion} ${o.metadata.name}`).sort();

const R = (s: string) => `${REL}-${s}`;
const clusterInventory = [
  `Secret v1 ${R('cloud-credentials')}`,
  `Secret v1 ${R('admission-configuration')}`,
  `ServiceAccount v1 ${R('autoscaler')}`,
  `Role rbac.authorization.k8s.io/v1 ${R('autoscaler')}`,
  `RoleBinding rbac.authorization.k8s.io/v1 ${R('autoscaler')}`,
  `Deployment apps/v1 ${R('autoscaler')}`,
  `Cluster cluster.x-k8s.io/v1beta1 ${REL}`,
  `OpenStackCluster infrastructure.cluster.x-k8s.io/v1beta1 ${REL}`,
  `KubeadmControlPlane controlplane.cluster.x-k8s.io/v1beta1 ${R('control-plane')}`,
  `OpenStackMachineTemplate infrastructure.cluster.x-k8s.io/v1beta1 ${R('control-plane-1e61a4fa')}`,
  `OpenStackMachineTemplate infrastructure.cluster.x-k8s.io/v1beta1 ${R('md-0-a3d59528')}`,
  `KubeadmConfigTemplate bootstrap.cluster.x-k8s.io/v1beta1 ${R('md-0-b3b6860f')}`,
  `MachineDeployment cluster.x-k8s.io/v1beta1 ${R('md-0')}`,
  `MachineHealthCheck cluster.x-k8s.io/v1beta1 ${R('control-plane')}`,
  `MachineHealthCheck cluster.x-k8s.io/v1beta1 ${R('md-0')}`,
].sort();
const minimalInventory = [
  ...clusterInventory,
  ...ADDONS.flatMap((c) => [`Secret v1 ${R(`${c}-config`)}`, `HelmRelease addons.stackhpc.com/v1alpha1 ${R(c)}`]),
  `Manifests addons.stackhpc.com/v1alpha1 ${R('cni-calico-globalnetpolicy')}`,
  `Manifests addons.stackhpc.com/v1alpha1 ${R('cloud-config')}`,
  `Manifests addons.stackhpc.com/v1alpha1 ${R('csi-cinder-storageclass')}`,
].sort();

describe('openstack-cluster stand-in: minimal values (reference §3.1)', () => {
  let objs: Obj[];
  beforeAll(async () => {
    objs = await render(minimal());
  });

  it('renders exactly the 36 objects of the real chart, none with a namespace', () => {
    expect(objs).toHaveLength(36);
    expect(inventory(objs)).toEqual(minimalInventory);
    expect(objs.filter((o) => o.metadata.namespace !== undefined)).toEqual([]);
  });

  it('labels chart objects and addon objects as the real chart and its addons subchart do', () => {
    const p = 'capi.stackhpc.com';
    expect(find(objs, 'OpenStackMachineTemplate', R('md-0-a3d59528')).metadata.labels).toEqual({
      'helm.sh/chart': 'openstack-cluster-0.27.0',
      [`${p}/managed-by`]: 'Helm',
      [`${p}/infrastructure-provider`]: 'openstack',
      [`${p}/cluster`]: REL,
      [`${p}/component`]: 'worker',
      [`${p}/node-group`]: 'md-0',
    });
    expect(find(objs, 'Cluster', REL).metadata.labels).toEqual({
      'helm.sh/chart': 'openstack-cluster-0.27.0',
      [`${p}/managed-by`]: 'Helm',
      [`${p}/infrastructure-provider`]: 'openstack',
      [`${p}/cluster`]: REL,
    });
    for (const name of ['cloud-credentials', 'admission-configuration'])
      expect(find(objs, 'Secret', R(name)).metadata.labels?.[`${p}/component`]).toBe(name);
    expect(find(objs, 'Deployment', R('autoscaler')).metadata.labels?.[`${p}/component`]).toBe('autoscaler');
    expect(find(objs, 'KubeadmControlPlane', R('control-plane')).metadata.labels?.[`${p}/component`]).toBe(
      'control-plane',
    );
    expect(find(objs, 'Secret', R('csi-cinder-config')).metadata.labels).toEqual({
      'helm.sh/chart': 'addons-0.27.0',
      [`${p}/managed-by`]: 'Helm',
      [`${p}/cluster`]: REL,
      [`${p}/component`]: 'csi-cinder',
      'addons.stackhpc.com/watch': '',
    });
    expect(find(objs, 'HelmRelease', R('csi-cinder')).metadata.labels).toEqual({
      'helm.sh/chart': 'addons-0.27.0',
      [`${p}/managed-by`]: 'Helm',
      [`${p}/cluster`]: REL,
      [`${p}/component`]: 'csi-cinder',
    });
    // The storage-class Manifests keeps the csi-cinder component label.
    expect(find(objs, 'Manifests', R('csi-cinder-storageclass')).metadata.labels?.[`${p}/component`]).toBe(
      'csi-cinder',
    );
  });

  it('keeps exactly the objects CAPI must delete (helm.sh/resource-policy: keep), with checksums on templates', () => {
    const kept = objs
      .filter((o) => o.metadata.annotations?.['helm.sh/resource-policy'] === 'keep')
      .map((o) => `${o.kind} ${o.metadata.name}`)
      .sort();
    expect(kept).toEqual(
      [
        `Secret ${R('cloud-credentials')}`,
        `OpenStackCluster ${REL}`,
        `KubeadmControlPlane ${R('control-plane')}`,
        `OpenStackMachineTemplate ${R('control-plane-1e61a4fa')}`,
        `OpenStackMachineTemplate ${R('md-0-a3d59528')}`,
        `KubeadmConfigTemplate ${R('md-0-b3b6860f')}`,
      ].sort(),
    );
    for (const o of [...ofKind(objs, 'OpenStackMachineTemplate'), ...ofKind(objs, 'KubeadmConfigTemplate')]) {
      const sum = o.metadata.annotations?.['capi.stackhpc.com/template-checksum'] ?? '';
      expect(sum).toMatch(/^[0-9a-f]{64}$/);
      expect(o.metadata.name.endsWith(`-${sum.slice(0, 8)}`)).toBe(true);
    }
    const janitor = objs.filter((o) => Object.keys(o.metadata.annotations ?? {}).some((k) => k.startsWith('janitor.')));
    expect(janitor).toEqual([]);
  });

  it('renders the OpenStackCluster spec of the reference (§3.2)', () => {
    expect(find(objs, 'OpenStackCluster', REL).spec).toEqual({
      identityRef: { name: R('cloud-credentials'), cloudName: 'openstack' },
      managedSecurityGroups: { allowAllInClusterTraffic: true },
      managedSubnets: [{ cidr: '192.168.3.0/24' }],
      apiServerLoadBalancer: { enabled: true },
      disableAPIServerFloatingIP: false,
      apiServerPort: 6443,
      controlPlaneOmitAvailabilityZone: true,
    });
  });

  it('hashes the machine template spec text byte for byte: the name is sha256 of the printed spec', () => {
    const cp = find(objs, 'OpenStackMachineTemplate', R('control-plane-1e61a4fa'));
    expect(cp.spec).toEqual({
      template: {
        spec: {
          identityRef: { name: R('cloud-credentials'), cloudName: 'openstack' },
          flavor: 'm1.medium',
          sshKeyName: 'deploy-key',
          image: { id: IMAGE },
        },
      },
    });
    const text =
      `template:\n  spec:\n    identityRef:\n      name: ${R('cloud-credentials')}\n      cloudName: openstack\n` +
      `    flavor: m1.medium\n    sshKeyName: deploy-key\n    image:\n      id: ${IMAGE}`;
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    expect(cp.metadata.annotations?.['capi.stackhpc.com/template-checksum']).toBe(sha(`\n${text}`));
    expect(
      find(objs, 'OpenStackMachineTemplate', R('md-0-a3d59528')).metadata.annotations?.[
        'capi.stackhpc.com/template-checksum'
      ],
    ).toBe(sha(text));
  });

  it('points the Cluster, control plane and workers at the right objects', () => {
    expect(find(objs, 'Cluster', REL).spec).toMatchObject({
      clusterNetwork: {
        pods: { cidrBlocks: ['172.16.0.0/13'] },
        services: { cidrBlocks: ['172.24.0.0/13'] },
        serviceDomain: 'cluster.local',
      },
      controlPlaneRef: { kind: 'KubeadmControlPlane', name: R('control-plane'), namespace: 'default' },
      infrastructureRef: { kind: 'OpenStackCluster', name: REL, namespace: 'default' },
    });
    const kcp = find(objs, 'KubeadmControlPlane', R('control-plane')).spec!;
    expect(kcp).toMatchObject({
      version: 'v1.33.10',
      replicas: 1,
      machineTemplate: { infrastructureRef: { name: R('control-plane-1e61a4fa'), namespace: 'default' } },
    });
    const md = find(objs, 'MachineDeployment', R('md-0'));
    expect(md.metadata.annotations).toBeNull();
    expect(md.spec).toMatchObject({
      clusterName: REL,
      replicas: 1,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0, deletePolicy: 'Random' } },
      selector: {
        matchLabels: {
          'capi.stackhpc.com/cluster': REL,
          'capi.stackhpc.com/component': 'worker',
          'capi.stackhpc.com/node-group': 'md-0',
          'cluster.x-k8s.io/cluster-name': REL,
        },
      },
      template: {
        metadata: {
          labels: {
            'capi.stackhpc.com/cluster': REL,
            'capi.stackhpc.com/component': 'worker',
            'capi.stackhpc.com/node-group': 'md-0',
          },
        },
        spec: {
          version: 'v1.33.10',
          bootstrap: { configRef: { kind: 'KubeadmConfigTemplate', name: R('md-0-b3b6860f') } },
          infrastructureRef: { kind: 'OpenStackMachineTemplate', name: R('md-0-a3d59528') },
          nodeDrainTimeout: '5m0s',
        },
      },
    });
    expect((md.spec as { template: { spec: Record<string, unknown> } }).template.spec).not.toHaveProperty(
      'failureDomain',
    );
  });

  it('writes the kubeadm content of the reference (§3.2) on the control plane and the workers', () => {
    interface File {
      path: string;
      content?: string;
    }
    interface Kcs {
      files: File[];
      preKubeadmCommands: string[];
      clusterConfiguration: Record<string, { extraArgs: Record<string, string> }>;
      joinConfiguration: { nodeRegistration: { name: string; kubeletExtraArgs: Record<string, string> } };
    }
    const kcs = find(objs, 'KubeadmControlPlane', R('control-plane')).spec!.kubeadmConfigSpec as Kcs;
    const mirrors = ['docker.io', 'ghcr.io', 'nvcr.io', 'quay.io', 'registry.k8s.io'];
    expect(kcs.files.map((f) => f.path)).toEqual([
      '/etc/kubernetes/admission/configuration.yaml',
      '/etc/containerd/conf.d/.keepdir',
      '/etc/containerd/certs.d/.keepdir',
      ...mirrors.map((r) => `/etc/containerd/certs.d/${r}/hosts.toml`),
      '/run/kubeadm/kube-proxy-configuration.yaml',
    ]);
    expect(kcs.files.find((f) => f.path.includes('docker.io'))?.content).toBe(
      '\nserver = "https://registry-1.docker.io"\n[host."https://quay.io/v2/azimuth/docker.io"]\n' +
        'capabilities = ["pull", "resolve"]\nskip_verify = false\noverride_path = true\n',
    );
    expect(kcs.preKubeadmCommands).toHaveLength(2);
    expect(kcs.preKubeadmCommands[0]).toContain('config_path = "/etc/containerd/certs.d"');
    expect(kcs.preKubeadmCommands[1]).toBe(
      'cat /run/kubeadm/kube-proxy-configuration.yaml >> /run/kubeadm/kubeadm.yaml',
    );
    expect(kcs.clusterConfiguration.apiServer!.extraArgs).toEqual({
      'admission-control-config-file': '/etc/kubernetes/admission/configuration.yaml',
      v: '2',
    });
    expect(kcs.clusterConfiguration.controllerManager!.extraArgs).toEqual({
      'cloud-provider': 'external',
      'bind-address': '0.0.0.0',
    });
    expect(kcs.clusterConfiguration.etcd).toEqual({
      local: {
        dataDir: '/var/lib/etcd',
        extraArgs: {
          'heartbeat-interval': '500',
          'election-timeout': '5000',
          'quota-backend-bytes': '4294967296',
          'listen-metrics-urls': 'http://0.0.0.0:2381',
        },
      },
    });
    expect(kcs).not.toHaveProperty('kubeProxyConfiguration');

    const kct = find(objs, 'KubeadmConfigTemplate', R('md-0-b3b6860f')).spec as { template: { spec: Kcs } };
    expect(kct.template.spec.files.map((f) => f.path)).toEqual([
      '/etc/containerd/conf.d/.keepdir',
      '/etc/containerd/certs.d/.keepdir',
      ...mirrors.map((r) => `/etc/containerd/certs.d/${r}/hosts.toml`),
    ]);
    expect(kct.template.spec.joinConfiguration.nodeRegistration).toEqual({
      name: '{{ local_hostname }}',
      kubeletExtraArgs: { 'cloud-provider': 'external', 'node-labels': 'capi.stackhpc.com/node-group=md-0' },
    });
  });

  it('puts only the chosen cloud, renamed openstack, in the credentials Secret', async () => {
    const objs2 = await render(
      withMinimal({ clouds: { other: { auth: { auth_url: 'https://elsewhere' } }, lab: CLOUD }, cloudName: 'lab' }),
    );
    const secret = find(objs2, 'Secret', R('cloud-credentials'));
    const doc = parseAllDocuments(secret.stringData!['clouds.yaml']!)[0]!.toJS() as unknown;
    expect(doc).toEqual({ clouds: { openstack: CLOUD } });
    expect(secret.stringData).not.toHaveProperty('cacert');
  });
});

describe('openstack-cluster stand-in: template names (reference §4)', () => {
  it('reproduces both rows of the test vectors', async () => {
    expect(templateNames(await render(minimal('m1.medium', 'deploy-key')))).toEqual({
      cpOsmt: R('control-plane-1e61a4fa'),
      mdOsmt: R('md-0-a3d59528'),
      mdKct: R('md-0-b3b6860f'),
    });
    expect(templateNames(await render(minimal('m1.large', `${REL}-seed-deploy`)))).toEqual({
      cpOsmt: R('control-plane-7f414ea3'),
      mdOsmt: R('md-0-671f3959'),
      mdKct: R('md-0-b3b6860f'),
    });
  });

  const base = { cpOsmt: R('control-plane-1e61a4fa'), mdOsmt: R('md-0-a3d59528'), mdKct: R('md-0-b3b6860f') };
  const cases: Array<[string, Values, Array<keyof typeof base>]> = [
    ['machineImageId', { machineImageId: 'aaaaaaaa-2222-3333-4444-555555555555' }, ['cpOsmt', 'mdOsmt']],
    [
      'a control-plane flavor (CP settings touch only the CP template)',
      { controlPlane: { machineFlavor: 'm1.xlarge' } },
      ['cpOsmt'],
    ],
    ['a worker root volume', { nodeGroupDefaults: { machineRootVolume: { diskSize: 40 } } }, ['mdOsmt']],
    ['the etcd block device', { etcd: { blockDevice: { size: 10 } } }, ['cpOsmt']],
    ['machine metadata', { machineMetadata: { team: 'platform' } }, ['cpOsmt', 'mdOsmt']],
    ['trustedCAs', { trustedCAs: { corp: CA } }, ['mdKct']],
    ['registryMirrors: null (drops the default mirrors)', { registryMirrors: null }, ['mdKct']],
    ['registryAuth (its presence)', { registryAuth: { 'docker.io': { username: 'u', password: 'p' } } }, ['mdKct']],
    ['additionalPackages', { additionalPackages: ['jq'] }, ['mdKct']],
    ['group nodeLabels', { nodeGroups: [{ name: 'md-0', machineCount: 1, nodeLabels: { tier: 'a' } }] }, ['mdKct']],
    ['kubernetesVersion', { kubernetesVersion: '1.34.2' }, []],
    ['machine counts', { controlPlane: { machineCount: 3 }, nodeGroups: [{ name: 'md-0', machineCount: 5 }] }, []],
    [
      'apiServer.logLevel and etcd args',
      { apiServer: { logLevel: 4 }, etcd: { extraArgs: { 'heartbeat-interval': '250' } } },
      [],
    ],
    ['addons', { addons: { monitoring: { enabled: true } } }, []],
    ['registryMirrors: {} (keeps the defaults)', { registryMirrors: {} }, []],
  ];
  for (const [what, extra, renamed] of cases) {
    it(`${renamed.length ? 'renames' : 'does not rename'} templates on ${what}`, async () => {
      const names = templateNames(await render(withMinimal(extra)));
      for (const key of Object.keys(base) as Array<keyof typeof base>) {
        if (renamed.includes(key)) expect(names[key], key).not.toBe(base[key]);
        else expect(names[key], key).toBe(base[key]);
      }
    });
  }

  it('changes registryAuth content without a new KubeadmConfigTemplate (only its Secret changes)', async () => {
    const a = await render(withMinimal({ registryAuth: { 'docker.io': { username: 'u', password: 'p1' } } }));
    const b = await render(withMinimal({ registryAuth: { 'docker.io': { username: 'u', password: 'p2' } } }));
    expect(templateNames(a)).toEqual(templateNames(b));
    expect(find(a, 'Secret', R('containerd-auth')).stringData!['auth.toml']).toContain('password = "p1"');
  });
});

describe('openstack-cluster stand-in: capi-mgmt values (reference §5, azimuth §2.4)', () => {
  let objs: Obj[];
  beforeAll(async () => {
    objs = await render(capiMgmt());
  });

  const MONITORING = [
    'Secret kube-prometheus-stack-config',
    'HelmRelease kube-prometheus-stack',
    'Manifests kube-prometheus-stack-dashboards',
    'Secret loki-stack-config',
    'HelmRelease loki-stack',
    'Manifests loki-stack-dashboards',
    'Secret blackbox-exporter-config',
    'HelmRelease blackbox-exporter',
    'Manifests blackbox-exporter-dashboards',
    'Manifests blackbox-exporter-alerts',
    'Manifests cni-calico-monitoring',
  ];

  it('renders 41 objects: the 36 without NFD, NVIDIA and Mellanox, plus the 11 of monitoring', () => {
    expect(objs).toHaveLength(41);
    const names = objs.map((o) => `${o.kind} ${o.metadata.name}`);
    for (const m of MONITORING) {
      const [kind, name] = m.split(' ');
      expect(names).toContain(`${kind} ${R(name!)}`);
    }
    for (const gone of ['node-feature-discovery', 'nvidia-gpu-operator', 'mellanox-network-operator']) {
      expect(names).not.toContain(`HelmRelease ${R(gone)}`);
      expect(names).not.toContain(`Secret ${R(`${gone}-config`)}`);
    }
    expect(names.filter((x) => x.includes('ingress'))).toEqual([]);
    expect(templateNames(objs).cpOsmt).toBe(R('control-plane-7f414ea3'));
  });

  it('keeps the default mirrors with registryMirrors: {}, an empty registryAuth renders no Secret', () => {
    const kct = ofKind(objs, 'KubeadmConfigTemplate')[0]!;
    const files = (kct.spec as { template: { spec: { files: Array<{ path: string }> } } }).template.spec.files;
    expect(files.filter((f) => f.path.endsWith('hosts.toml'))).toHaveLength(5);
    expect(objs.find((o) => o.metadata.name === R('containerd-auth'))).toBeUndefined();
  });

  it('uses the given network and CA: no managed subnet, cacert in the credentials Secret', () => {
    const spec = find(objs, 'OpenStackCluster', REL).spec!;
    expect(spec).toMatchObject({
      network: { id: 'seed-network-id' },
      externalNetwork: { id: 'ext-net-id' },
      apiServerLoadBalancer: { enabled: true },
      disableAPIServerFloatingIP: false,
      controlPlaneOmitAvailabilityZone: true,
    });
    expect(spec).not.toHaveProperty('managedSubnets');
    expect(find(objs, 'Secret', R('cloud-credentials')).stringData!.cacert).toBe(CA);
    const clouds = parseAllDocuments(
      find(objs, 'Secret', R('cloud-credentials')).stringData!['clouds.yaml']!,
    )[0]!.toJS() as {
      clouds: { openstack: { auth: { project_id: string } } };
    };
    expect(clouds.clouds.openstack.auth.project_id).toBe('project-id');
    expect(find(objs, 'MachineDeployment', R('md-0')).spec).toMatchObject({
      replicas: 3,
      strategy: { rollingUpdate: { maxUnavailable: 0, maxSurge: 1, deletePolicy: 'Random' } },
    });
  });

  it('renders the monitoring HelmReleases of the reference (§3.3)', () => {
    const sources = (c: string, keys = ['defaults', 'overrides']) =>
      keys.map((key) => ({ secret: { name: R(`${c}-config`), key } }));
    expect(find(objs, 'HelmRelease', R('kube-prometheus-stack')).spec).toEqual({
      clusterName: REL,
      bootstrap: true,
      chart: {
        repo: 'https://prometheus-community.github.io/helm-charts',
        name: 'kube-prometheus-stack',
        version: '85.0.2',
      },
      targetNamespace: 'monitoring-system',
      releaseName: 'kube-prometheus-stack',
      valuesSources: sources('kube-prometheus-stack'),
      lifecycleHooks: {
        preUpgrade: [
          {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            selector: { alertmanager: 'kube-prometheus-stack-alertmanager' },
            action: 'patch',
            options: { data: { spec: { resources: { requests: { storage: '10Gi' } } } } },
          },
          {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            selector: { 'operator.prometheus.io/name': 'kube-prometheus-stack-prometheus' },
            action: 'patch',
            options: { data: { spec: { resources: { requests: { storage: '10Gi' } } } } },
          },
        ],
        postDelete: [
          {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            selector: { alertmanager: 'kube-prometheus-stack-alertmanager' },
            action: 'delete',
          },
          {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            selector: { 'operator.prometheus.io/name': 'kube-prometheus-stack-prometheus' },
            action: 'delete',
          },
        ],
      },
    });
    const kps = find(objs, 'Secret', R('kube-prometheus-stack-config')).stringData!;
    expect(kps.defaults).toContain('retentionSize: 8GB');
    const overrides = parseAllDocuments(kps.overrides!)[0]!.toJS() as {
      prometheus: { prometheusSpec: { retention: string } };
    };
    expect(overrides.prometheus.prometheusSpec.retention).toBe('90d');

    expect(find(objs, 'HelmRelease', R('loki-stack')).spec).toEqual({
      clusterName: REL,
      bootstrap: true,
      chart: { repo: 'https://grafana.github.io/helm-charts', name: 'loki-stack', version: '2.10.2' },
      targetNamespace: 'monitoring-system',
      releaseName: 'loki-stack',
      valuesSources: sources('loki-stack'),
      lifecycleHooks: {
        preUpgrade: [
          { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'loki-stack', action: 'delete' },
          {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            selector: { app: 'loki', release: 'loki-stack' },
            action: 'patch',
            options: { data: { spec: { resources: { requests: { storage: '10Gi' } } } } },
          },
        ],
      },
    });
    const loki = parseAllDocuments(find(objs, 'Secret', R('loki-stack-config')).stringData!.overrides!)[0]!.toJS() as {
      loki: { config: { limits_config: { retention_period: string }; compactor: { retention_enabled: boolean } } };
    };
    expect(loki.loki.config).toEqual({
      compactor: { retention_enabled: true },
      limits_config: { retention_period: '744h' },
    });

    expect(find(objs, 'HelmRelease', R('blackbox-exporter')).spec).toEqual({
      clusterName: REL,
      bootstrap: true,
      chart: {
        repo: 'https://prometheus-community.github.io/helm-charts',
        name: 'prometheus-blackbox-exporter',
        version: '11.9.1',
      },
      targetNamespace: 'monitoring-system',
      releaseName: 'prometheus-blackbox-exporter',
      valuesSources: sources('blackbox-exporter'),
    });
    expect(find(objs, 'Secret', R('blackbox-exporter-config')).stringData!.defaults).toContain('auth_url');
    expect(find(objs, 'HelmRelease', R('etcd-defrag')).spec).toMatchObject({
      chart: { repo: 'https://azimuth-cloud.github.io/capi-helm-charts', name: 'etcd-defrag', version: '0.27.0' },
      valuesSources: sources('etcd-defrag', ['overrides']),
    });
  });

  it('renders the monitoring Manifests of the reference (§3.3)', () => {
    const manifests = (c: string) =>
      find(objs, 'Manifests', R(c)).spec as Record<string, unknown> & {
        manifestSources: Array<{ template: string }>;
      };
    for (const [c, ns, release] of [
      ['kube-prometheus-stack-dashboards', 'monitoring-system', 'kube-prometheus-stack-dashboards'],
      ['loki-stack-dashboards', 'monitoring-system', 'loki-stack-dashboards'],
      ['blackbox-exporter-dashboards', 'monitoring-system', 'blackbox-exporter-dashboards'],
      ['blackbox-exporter-alerts', 'monitoring-system', 'blackbox-exporter-alerts'],
      ['cni-calico-monitoring', 'tigera-operator', 'cni-calico-monitoring'],
    ]) {
      expect(manifests(c!)).toMatchObject({
        clusterName: REL,
        bootstrap: true,
        targetNamespace: ns,
        releaseName: release,
      });
      expect(manifests(c!).manifestSources.length).toBeGreaterThan(0);
    }
    expect(manifests('loki-stack-dashboards').manifestSources[0]!.template).toContain(
      'url: http://loki-stack.monitoring-system:3100',
    );
    expect(manifests('blackbox-exporter-alerts').manifestSources[0]!.template).toContain('kind: PrometheusRule');
    const policy = manifests('cni-calico-globalnetpolicy');
    expect(policy).toMatchObject({
      targetNamespace: 'tigera-operator',
      releaseName: 'cni-calico-metadata-global-netpolicy',
    });
    const docs = parseAllDocuments(policy.manifestSources[0]!.template).map(
      (d) => d.toJS() as { metadata: { name: string }; spec: { order: number } },
    );
    expect(docs.map((d) => [d.metadata.name, d.spec.order])).toEqual([
      [`default.${R('deny-egress')}`, 10],
      [`default.${R('allow-global-egress')}`, 20],
    ]);
    expect(find(objs, 'Secret', R('node-problem-detector-config')).stringData!.defaults).toContain('serviceMonitor');
  });
});

describe('openstack-cluster stand-in: value traps', () => {
  it('renders the lab shape: no load balancer, no floating IP, the endpoint verbatim', async () => {
    const objs = await render(
      withMinimal({
        apiServer: { enableLoadBalancer: false, associateFloatingIP: false },
        controlPlaneEndpoint: { host: '127.0.7.1', port: 6443 },
      }),
    );
    const spec = find(objs, 'OpenStackCluster', REL).spec!;
    expect(spec).toEqual({
      identityRef: { name: R('cloud-credentials'), cloudName: 'openstack' },
      controlPlaneEndpoint: { host: '127.0.7.1', port: 6443 },
      managedSecurityGroups: { allowAllInClusterTraffic: true },
      managedSubnets: [{ cidr: '192.168.3.0/24' }],
      disableAPIServerFloatingIP: true,
      apiServerPort: 6443,
      controlPlaneOmitAvailabilityZone: true,
    });
    // The API server settings do not rename any template.
    expect(templateNames(objs)).toEqual({
      cpOsmt: R('control-plane-1e61a4fa'),
      mdOsmt: R('md-0-a3d59528'),
      mdKct: R('md-0-b3b6860f'),
    });
  });

  it('passes allowedCIDRs, provider and filters through; dnsNameservers only for a managed subnet', async () => {
    const lb = await render(
      withMinimal({
        apiServer: { loadBalancerProvider: 'ovn', allowedCIDRs: ['192.0.2.0/24'] },
        clusterNetworking: {
          dnsNameservers: ['192.0.2.53'],
          internalNetwork: { subnetFilter: { name: 'nodes', tags: 'a,b' } },
        },
      }),
    );
    const spec = find(lb, 'OpenStackCluster', REL).spec!;
    expect(spec.apiServerLoadBalancer).toEqual({ enabled: true, provider: 'ovn', allowedCIDRs: ['192.0.2.0/24'] });
    expect(spec.subnets).toEqual([{ filter: { name: 'nodes', tags: ['a', 'b'] } }]);
    expect(spec).not.toHaveProperty('managedSubnets');
    expect(
      (
        spec.managedSecurityGroups as { workerNodesSecurityGroupRules: Array<{ name: string }> }
      ).workerNodesSecurityGroupRules.map((r) => r.name),
    ).toEqual(['Worker nodePort TCP', 'Worker nodePort UDP']);
    const managed = await render(withMinimal({ clusterNetworking: { dnsNameservers: ['192.0.2.53'] } }));
    expect(find(managed, 'OpenStackCluster', REL).spec!.managedSubnets).toEqual([
      { cidr: '192.168.3.0/24', dnsNameservers: ['192.0.2.53'] },
    ]);
  });

  it('accepts controlPlaneNodesSecurityGroupRules only as a YAML string, as the real chart does', async () => {
    const rule = {
      name: 'etcd',
      direction: 'ingress',
      etherType: 'IPv4',
      protocol: 'tcp',
      portRangeMin: 2379,
      portRangeMax: 2380,
    };
    expect(
      await renderError(withMinimal({ clusterNetworking: { controlPlaneNodesSecurityGroupRules: [rule] } })),
    ).toContain('wrong type for value; expected string; got []interface {}');
    const objs = await render(
      withMinimal({ clusterNetworking: { controlPlaneNodesSecurityGroupRules: stringify([rule]) } }),
    );
    expect(find(objs, 'OpenStackCluster', REL).spec!.managedSecurityGroups).toEqual({
      allowAllInClusterTraffic: true,
      controlPlaneNodesSecurityGroupRules: [rule],
    });
  });

  it('registryMirrors: {} keeps the five default mirrors, null drops them', async () => {
    const hosts = (objs: Obj[]) =>
      (
        ofKind(objs, 'KubeadmConfigTemplate')[0]!.spec as { template: { spec: { files: Array<{ path: string }> } } }
      ).template.spec.files
        .map((f) => f.path)
        .filter((p) => p.endsWith('hosts.toml'));
    expect(hosts(await render(withMinimal({ registryMirrors: {} })))).toHaveLength(5);
    expect(hosts(await render(withMinimal({ registryMirrors: null })))).toEqual([]);
    const own = await render(
      withMinimal({
        registryMirrors: {
          'docker.io': {
            upstream: 'https://mirror.example',
            mirrors: [{ url: 'https://m2.example', skipVerify: true }],
          },
        },
      }),
    );
    const file = (
      ofKind(own, 'KubeadmConfigTemplate')[0]!.spec as {
        template: { spec: { files: Array<{ path: string; content: string }> } };
      }
    ).template.spec.files.find((f) => f.path === '/etc/containerd/certs.d/docker.io/hosts.toml');
    expect(file?.content).toBe(
      '\nserver = "https://mirror.example"\n[host."https://m2.example"]\ncapabilities = ["pull", "resolve"]\nskip_verify = true\noverride_path = true\n',
    );
  });

  it('merges node groups over nodeGroupDefaults the mustMerge way: empty group values lose', async () => {
    const objs = await render(
      withMinimal({
        nodeGroupDefaults: { machineCount: 2 },
        nodeGroups: [{ name: 'md-0', machineCount: 0, healthCheck: { enabled: false } }],
      }),
    );
    expect(find(objs, 'MachineDeployment', R('md-0')).spec!.replicas).toBe(2);
    expect(find(objs, 'MachineHealthCheck', R('md-0'))).toBeDefined();
  });

  it('renders autoscaled groups with annotations and no replicas', async () => {
    const objs = await render(
      withMinimal({ nodeGroups: [{ name: 'md-0', autoscale: true, machineCountMin: 1, machineCountMax: 4 }] }),
    );
    const md = find(objs, 'MachineDeployment', R('md-0'));
    expect(md.metadata.annotations).toEqual({
      'cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size': '1',
      'cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size': '4',
    });
    expect(md.spec).not.toHaveProperty('replicas');
  });

  it('renders only the 15 cluster objects with addons.enabled: false', async () => {
    const objs = await render(withMinimal({ addons: { enabled: false } }));
    expect(objs).toHaveLength(15);
    expect(inventory(objs)).toEqual(clusterInventory);
  });
});

describe('openstack-cluster stand-in: failure messages (reference §5)', () => {
  const cases: Array<[string, Values, string]> = [
    ['no clouds', { clouds: null }, 'clouds must be specified if cloudCredentialsSecretName is not given'],
    [
      'no control-plane flavor',
      { controlPlane: { machineFlavor: null } },
      '.Values.controlPlane.machineFlavor is required',
    ],
    ['no worker flavor', { nodeGroupDefaults: { machineFlavor: null } }, "no flavor specified for node group 'md-0'"],
    [
      'no control-plane image',
      { machineImageId: null, nodeGroupDefaults: { machineImageId: IMAGE } },
      'One of controlPlane.machineImageId, controlPlane.machineImage, machineImageId or machineImage is required',
    ],
    [
      'no worker image',
      { machineImageId: null, controlPlane: { machineImageId: IMAGE } },
      'One of nodeGroupDefaults.machineImageId, nodeGroupDefaults.machineImage, machineImageId or machineImage is required',
    ],
    [
      'no worker Kubernetes version',
      { kubernetesVersion: null, controlPlane: { kubernetesVersion: '1.33.10' } },
      "unable to determine Kubernetes version for node group 'md-0'",
    ],
    ['no machine count', { nodeGroups: [{ name: 'md-0' }] }, "no machine count specified for node group 'md-0'"],
    [
      'a short group name',
      { nodeGroups: [{ name: 'md', machineCount: 1 }] },
      'Node group name must be at least three characters long',
    ],
  ];
  for (const [what, extra, message] of cases) {
    it(`fails with ${what}`, async () => {
      expect(await renderError(withMinimal(extra))).toContain(message);
    });
  }

  it('fails for kubernetesVersion given as a YAML number', async () => {
    const msg = await renderError(withMinimal({ kubernetesVersion: 1.33 }));
    expect(msg).toContain('must be a string');
  });

  it('fails, naming it, for a part of the values the stand-in does not cover', async () => {
    expect(await renderError(withMinimal({ osDistro: 'flatcar' }))).toContain('not covered by the lab');
    expect(await renderError(withMinimal({ addons: { ingress: { enabled: true } } }))).toContain('addons.ingress');
  });
});
