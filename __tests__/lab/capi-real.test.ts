/**
 * The lab's real Cluster API, checked with no capi-mgmt code: the release
 * manifests the mirror serves are applied with kubectl to a dedicated lab
 * cluster, the managers' supervisor starts the real managers for it, the
 * lab's openstack-cluster chart is rendered and installed with helm, and the
 * boot simulator plays the machines CAPO creates in the lab's Nova.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { AdminOpenStack } from '../helpers/admin-openstack.js';
import { labCloudsPath, labDir, labExports } from '../helpers/lab-parts.js';
import { startLabCluster, stopLabCluster } from '../../test/lab/mirror/lab.js';

const run = promisify(execFile);
const CLUSTER = 'capi-real';
const RELEASE = 'capi-real-smoke';
const ENDPOINT = '127.0.78.1';
const CHART_VERSION = '0.27.0';
const MANIFESTS = [
  'kubernetes-sigs/cluster-api/releases/download/v1.14.0/cluster-api-components.yaml',
  'kubernetes-sigs/cluster-api-provider-openstack/releases/download/v0.14.7/infrastructure-components.yaml',
  'k-orc/openstack-resource-controller/releases/download/v2.6.0/install.yaml',
];
const MANAGER_HEALTH_PORTS = [61440, 61450, 61460, 61470, 61480];

let tmp: string;
let kubeconfig: string;
let env: Record<string, string>;
const admin = new AdminOpenStack();
const t0 = Date.now();
const say = (m: string): void => console.log(`[capi-real +${Math.round((Date.now() - t0) / 1000)}s] ${m}`);

async function kubectl(args: string[], o: { input?: string; kubeconfig?: string } = {}): Promise<string> {
  const child = run(env.CAPI_LAB_KUBECTL!, ['--kubeconfig', o.kubeconfig ?? kubeconfig, ...args], {
    maxBuffer: 64 << 20,
  });
  if (o.input !== undefined) child.child.stdin!.end(o.input);
  return (await child).stdout;
}

const helm = async (args: string[]): Promise<string> =>
  (
    await run(env.CAPI_LAB_HELM!, [...args, '--kubeconfig', kubeconfig], {
      maxBuffer: 64 << 20,
      env: { ...process.env, HELM_CACHE_HOME: join(tmp, 'helm-cache'), HELM_CONFIG_HOME: join(tmp, 'helm-config') },
    })
  ).stdout;

/** `helm <verb> <release>` of the lab's openstack-cluster chart from the mirror with one values file. */
const chart = (verb: 'template' | 'install', release: string, valuesFile: string): Promise<string> =>
  helm([
    verb,
    release,
    'openstack-cluster',
    '--repo',
    env.CAPI_LAB_MIRROR_URL!,
    '--version',
    CHART_VERSION,
    '--namespace',
    'default',
    '--values',
    valuesFile,
  ]);

/** clusterctl's `${VAR:=default}` placeholders, replaced by their defaults as clusterctl does when VAR is unset. */
const clusterctlDefaults = (text: string): string => text.replace(/\$\{[A-Z0-9_]+:=([^}]*)\}/g, '$1');

async function until<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not after ${seconds} s${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** The lab cloud's clouds.yaml entry (an application credential), as the chart's `clouds.openstack`. */
function labCloud(): Record<string, unknown> {
  const doc = parse(readFileSync(labCloudsPath(), 'utf8')) as { clouds: Record<string, Record<string, unknown>> };
  return doc.clouds.lab!;
}

/** Values for the lab: one control-plane machine and one worker; the API on a loopback endpoint (test/lab/capi/README.md). */
function labValues(kubernetesVersion: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    clouds: { openstack: labCloud() },
    kubernetesVersion,
    machineImage: 'fake-image',
    controlPlaneEndpoint: { host: ENDPOINT, port: 6443 },
    apiServer: { enableLoadBalancer: false, associateFloatingIP: false },
    clusterNetworking: { internalNetwork: { nodeCidr: '192.168.78.0/24' } },
    controlPlane: { machineCount: 1, machineFlavor: 'm1.small' },
    nodeGroupDefaults: { machineFlavor: 'm1.small' },
    nodeGroups: [{ name: 'md-0', machineCount: 1 }],
    ...extra,
  };
}

function writeValues(name: string, values: Record<string, unknown>): string {
  const file = join(tmp, `${name}.yaml`);
  writeFileSync(file, stringify(values), { mode: 0o600 });
  return file;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
const conditionsOf = (o: { status?: { conditions?: Condition[] } }): Condition[] => o.status?.conditions ?? [];
const isTrue = (o: { status?: { conditions?: Condition[] } }, type: string): boolean =>
  conditionsOf(o).some((c) => c.type === type && c.status === 'True');

async function getJson<T>(args: string[], o: { kubeconfig?: string } = {}): Promise<T> {
  return JSON.parse(await kubectl([...args, '-o', 'json'], o)) as T;
}

/** What the lab OpenStack holds whose name carries the release's name (CAPO names everything after the cluster). */
async function openstackLeftovers(): Promise<string[]> {
  const named = (items: Array<{ name?: string; id: string }>, kind: string): string[] =>
    items.filter((x) => (x.name ?? '').includes(RELEASE)).map((x) => `${kind} ${x.name} (${x.id})`);
  const servers = (await admin.call('compute', 'GET', '/servers?all_tenants=1')).servers as Array<{
    id: string;
    name: string;
  }>;
  const lists = await Promise.all(
    [
      ['networks', 'networks'],
      ['subnets', 'subnets'],
      ['routers', 'routers'],
      ['ports', 'ports'],
      ['security-groups', 'security_groups'],
    ].map(async ([path, key]) =>
      named((await admin.call('network', 'GET', `/${path}`))[key!] as Array<{ id: string; name: string }>, path!),
    ),
  );
  return [...named(servers, 'server'), ...lists.flat()];
}

beforeAll(async () => {
  env = labExports();
  tmp = mkdtempSync(join(tmpdir(), 'capi-real-'));
  expect(await openstackLeftovers(), 'the lab OpenStack still holds a previous run of this test').toEqual([]);
  const kc = await startLabCluster(CLUSTER, { fresh: true });
  kubeconfig = join(tmp, 'kubeconfig');
  writeFileSync(kubeconfig, kc, { mode: 0o600 });

  // What a release installs, from the lab mirror, as `kubectl apply` would install it.
  for (const path of MANIFESTS) {
    const r = await fetch(`${env.CAPI_LAB_MIRROR_URL}/${path}`);
    expect(r.status, path).toBe(200);
    await kubectl(['apply', '--server-side', '-f', '-'], { input: clusterctlDefaults(await r.text()) });
  }
  // HelmRelease and Manifests CRDs (the addon objects of the chart): the lab's addon provider chart.
  await helm([
    'install',
    'cluster-api-addon-provider',
    'cluster-api-addon-provider',
    '--repo',
    env.CAPI_LAB_MIRROR_URL!,
    '--version',
    '0.13.1',
    '--namespace',
    'capi-addon-system',
    '--create-namespace',
  ]);
  say('release manifests applied; waiting for the supervisor to start the managers for this cluster');
  const clusterDir = join(labDir(), 'k8s', CLUSTER);
  await until('the five managers ready against the capi-real cluster', 180, async () => {
    if (readFileSync(join(labDir(), 'capi', 'target'), 'utf8').trim() !== clusterDir) return undefined;
    const ready = await Promise.all(
      MANAGER_HEALTH_PORTS.map((p) =>
        fetch(`http://127.0.0.1:${p}/readyz`).then(
          (r) => r.ok,
          () => false,
        ),
      ),
    );
    return ready.every(Boolean) ? true : undefined;
  });
  say('managers ready');
}, 400_000);

afterAll(async () => {
  if (process.env.CAPI_LAB_KEEP !== '1') {
    // A failed run may leave the release: let Cluster API delete what it made on OpenStack before the cluster goes.
    if (
      kubeconfig &&
      (await helm(['status', RELEASE, '--namespace', 'default']).then(
        () => true,
        () => false,
      ))
    ) {
      await helm(['uninstall', RELEASE, '--namespace', 'default']);
      await until('the Cluster deleted after a failed run', 300, async () =>
        (await kubectl(['get', 'clusters.cluster.x-k8s.io', '-A', '-o', 'name'])).trim() === '' ? true : undefined,
      ).catch((e: unknown) => console.error(String(e)));
    }
    await stopLabCluster(CLUSTER, { purge: true }).catch(() => {});
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
});

describe('the lab openstack-cluster chart against the real Cluster API CRDs and webhooks', () => {
  it('every object of a capi-mgmt-shaped release passes a server-side dry run', async () => {
    const values = writeValues(
      'dry-run',
      labValues('v1.34.4', {
        addons: { monitoring: { enabled: true } },
        controlPlane: { machineCount: 3, machineFlavor: 'm1.small' },
      }),
    );
    const rendered = await chart('template', 'capi-mgmt-dry', values);
    const docs = parseAllDocuments(rendered)
      .map((d) => d.toJS() as { kind: string; metadata: { name: string } } | null)
      .filter((d) => d !== null);
    const out = await kubectl(['apply', '--dry-run=server', '--namespace', 'default', '-f', '-'], { input: rendered });
    const accepted = out.split('\n').filter((l) => / \(server dry run\)$/.test(l));
    expect(accepted).toHaveLength(docs.length);
    expect(docs.map((d) => d.kind)).toEqual(
      expect.arrayContaining([
        'Cluster',
        'KubeadmControlPlane',
        'KubeadmConfigTemplate',
        'MachineDeployment',
        'OpenStackCluster',
        'OpenStackMachineTemplate',
        'Secret',
        'HelmRelease',
        'Manifests',
      ]),
    );
    say(`server-side dry run accepted ${accepted.length} objects`);
  });

  it('the real webhooks reject what Cluster API rejects (an even control-plane count)', async () => {
    const values = writeValues(
      'even',
      labValues('v1.34.4', { controlPlane: { machineCount: 2, machineFlavor: 'm1.small' } }),
    );
    const rendered = await chart('template', 'capi-mgmt-even', values);
    await expect(
      kubectl(['apply', '--dry-run=server', '--namespace', 'default', '-f', '-'], { input: rendered }),
    ).rejects.toThrow(/cannot be an even number when etcd is stacked/);
  });
});

describe('helm install of the chart: the real controllers and the boot simulator bring the cluster up', () => {
  it('reaches Available, serves Nodes that are the Nova servers, and leaves nothing after helm uninstall', async () => {
    const version = (await run(join(env.CAPI_LAB_K8S_BIN!, 'kube-apiserver'), ['--version'])).stdout
      .trim()
      .split(' ')[1]!;
    const values = writeValues('install', labValues(version));
    await chart('install', RELEASE, values);
    say(`helm install ${RELEASE} (Kubernetes ${version})`);

    type Obj = {
      metadata: { name: string };
      status?: { conditions?: Condition[]; phase?: string };
      spec?: { providerID?: string };
    };
    const seen = new Set<string>();
    const milestone = (label: string, ok: boolean): void => {
      if (ok && !seen.has(label)) {
        seen.add(label);
        say(label);
      }
    };
    const cluster = await until('Cluster Available=True (v1beta2)', 420, async () => {
      const c = await getJson<Obj>(['get', 'clusters.v1beta2.cluster.x-k8s.io', RELEASE, '-n', 'default']);
      milestone('Cluster ControlPlaneInitialized', isTrue(c, 'ControlPlaneInitialized'));
      milestone('Cluster ControlPlaneAvailable', isTrue(c, 'ControlPlaneAvailable'));
      milestone('Cluster WorkersAvailable', isTrue(c, 'WorkersAvailable'));
      return isTrue(c, 'Available') ? c : undefined;
    });
    say(
      `Cluster Available; conditions: ${conditionsOf(cluster)
        .map((c) => `${c.type}=${c.status}`)
        .join(' ')}`,
    );

    const kcp = await getJson<Obj>([
      'get',
      'kubeadmcontrolplanes.v1beta2.controlplane.cluster.x-k8s.io',
      `${RELEASE}-control-plane`,
      '-n',
      'default',
    ]);
    expect(isTrue(kcp, 'Available')).toBe(true);
    const md = await until('MachineDeployment Running', 120, async () => {
      const m = await getJson<Obj>([
        'get',
        'machinedeployments.v1beta2.cluster.x-k8s.io',
        `${RELEASE}-md-0`,
        '-n',
        'default',
      ]);
      return m.status?.phase === 'Running' ? m : undefined;
    });
    expect(md.status?.phase).toBe('Running');

    // The kubeconfig CAPI wrote reaches the workload API server the simulator runs; its Nodes are the Nova servers.
    const secret = await getJson<{ data: { value: string } }>([
      'get',
      'secret',
      `${RELEASE}-kubeconfig`,
      '-n',
      'default',
    ]);
    const workload = join(tmp, 'workload.kubeconfig');
    writeFileSync(workload, Buffer.from(secret.data.value, 'base64'), { mode: 0o600 });
    // Available asks for no worker yet (the MachineDeployment may be 1 unavailable): wait for its server and Node too.
    const serversNow = async () =>
      (
        (await admin.call('compute', 'GET', '/servers?all_tenants=1')).servers as Array<{ id: string; name: string }>
      ).filter((s) => s.name.startsWith(`${RELEASE}-`));
    const { ours, nodes, want } = await until('both machines as Nova servers and Nodes', 180, async () => {
      const ours = await serversNow();
      const nodes = await getJson<{ items: Obj[] }>(['get', 'nodes'], { kubeconfig: workload });
      const want = ours.map((s) => `openstack:///${s.id}`).sort();
      return ours.length === 2 && nodes.items.length === 2 ? { ours, nodes, want } : undefined;
    });
    expect(nodes.items.map((n) => n.spec?.providerID).sort()).toEqual(want);
    say(`workload API lists ${nodes.items.length} Nodes, the Nova servers ${ours.map((s) => s.name).join(', ')}`);

    await helm(['uninstall', RELEASE, '--namespace', 'default']);
    say('helm uninstall; waiting for the Cluster to go');
    await until('the Cluster deleted', 420, async () => {
      const out = await kubectl(['get', 'clusters.cluster.x-k8s.io', '-n', 'default', '-o', 'name']);
      return out.trim() === '' ? true : undefined;
    });
    const left = await until('nothing of the cluster left on OpenStack', 120, async () => {
      const l = await openstackLeftovers();
      return l.length === 0 ? l : undefined;
    });
    expect(left).toEqual([]);
    say('Cluster deleted; nothing named after it left on the lab OpenStack');
  }, 1_200_000);
});
