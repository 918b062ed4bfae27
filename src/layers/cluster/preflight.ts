/**
 * Checks before the cluster layer changes anything: the node image exists
 * (once, active), every flavor exists, and the project's quota covers the
 * cluster at its peak, i.e. every machine plus the rollout surge (CAPI rolls
 * the control plane and the workers at the same time), with its root
 * volumes, the API server's floating IP and load balancer where used.
 * Every problem is reported at once, each naming the setting to change.
 *
 * Reads the merged chart values (`clusterValues`), so what `cluster.values`
 * overrides is what gets checked.
 */
import type { Desired } from '../../model/desired.js';
import { closestNames } from '../../openstack/errors.js';
import type { Flavor, OpenStackClient, QuotaUsage, Server } from '../../openstack/types.js';
import { KNOWN_AFTER_SEED, type Values } from './values.js';

/** What the checks read from the cloud. */
export type PreflightCloud = Pick<
  OpenStackClient,
  | 'hasService'
  | 'listFlavors'
  | 'findImages'
  | 'listImageNames'
  | 'listServersByPrefix'
  | 'computeLimits'
  | 'volumeLimits'
  | 'floatingIpQuota'
  | 'loadBalancerQuota'
>;

export class PreflightError extends Error {
  constructor(readonly problems: string[]) {
    super(`the cluster cannot be created as configured:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PreflightError';
  }
}

/** A set of identical machines: the control plane, or one node group. */
interface Pool {
  what: string;
  /** CAPO names its machines' servers after the KCP or MachineDeployment: `<cluster>-control-plane-…`, `<cluster>-md-0-…`. */
  serverPrefix: string;
  /** The settings that size it, for messages. */
  settings: string;
  count: number;
  surge: number;
  flavor: string;
  flavorSetting: string;
  rootVolumeGb?: number;
}

interface Demand {
  instances: number;
  cores: number;
  ramMb: number;
  volumes: number;
  gigabytes: number;
  floatingIps: number;
  loadBalancers: number;
}

export interface PreflightReport {
  /** Peak needs of the cluster (machines plus surge). */
  demand: Demand;
  /** What this cluster already holds (a re-run), counted as available to it. */
  owned: Demand;
  /** One line for the log. */
  summary: string;
}

const isMap = (v: unknown): v is Values => v !== null && typeof v === 'object' && !Array.isArray(v);
const map = (v: unknown): Values => (isMap(v) ? v : {});
const dig = (v: unknown, ...path: string[]): unknown => path.reduce<unknown>((cur, k) => map(cur)[k], v);
const has = (v: unknown, ...path: string[]): boolean => dig(v, ...path) !== undefined;

/** A rolling update's surge: a number, or a percentage of the count rounded up (as Kubernetes does). */
function surgeOf(v: unknown, count: number, fallback: number): number {
  if (typeof v === 'number') return v;
  const pct = typeof v === 'string' ? /^(\d+)%$/.exec(v) : null;
  return pct ? Math.ceil((count * Number(pct[1])) / 100) : fallback;
}

/** The setting a chart value comes from: `cluster.values....` when that overrides it. */
function source(d: Desired, valuePath: string[], setting: string): string {
  return has(d.config.cluster.values, ...valuePath) ? `cluster.values.${valuePath.join('.')}` : setting;
}

function poolsOf(d: Desired, values: Values): Pool[] {
  const c = d.config.cluster;
  const cp = map(values.controlPlane);
  const count = typeof cp.machineCount === 'number' ? cp.machineCount : 3;
  const pools: Pool[] = [
    {
      what: 'control plane',
      serverPrefix: `${d.clusterName}-control-plane-`,
      settings: source(d, ['controlPlane', 'machineCount'], 'cluster.controlPlane.count'),
      count,
      surge: surgeOf(dig(cp, 'rolloutStrategy', 'rollingUpdate', 'maxSurge'), count, 1),
      flavor: String(cp.machineFlavor ?? ''),
      flavorSetting: source(
        d,
        ['controlPlane', 'machineFlavor'],
        c.controlPlane.flavor
          ? 'cluster.controlPlane.flavor'
          : 'cluster.controlPlane.flavor (the seed flavor by default)',
      ),
      rootVolumeGb: Number(dig(cp, 'machineRootVolume', 'diskSize')) || undefined,
    },
  ];
  const defaults = map(values.nodeGroupDefaults);
  const groups = Array.isArray(values.nodeGroups) ? values.nodeGroups.map(map) : [];
  groups.forEach((g, i) => {
    const name = String(g.name ?? `#${i}`);
    const autoscale = g.autoscale === true || (g.autoscale === undefined && defaults.autoscale === true);
    const n = autoscale ? Number(g.machineCountMax ?? 0) : Number(g.machineCount ?? 0);
    const rolling = dig(g, 'rolloutStrategy', 'rollingUpdate') ?? dig(defaults, 'rolloutStrategy', 'rollingUpdate');
    const own = has(g, 'machineFlavor');
    pools.push({
      what: `node group ${name}`,
      serverPrefix: `${d.clusterName}-${name}-`,
      settings: has(d.config.cluster.values, 'nodeGroups')
        ? `cluster.values.nodeGroups[${i}]`
        : 'cluster.workers.count',
      count: n,
      surge: surgeOf(dig(rolling, 'maxSurge'), n, 0),
      flavor: String(own ? g.machineFlavor : (defaults.machineFlavor ?? '')),
      flavorSetting: own
        ? `cluster.values.nodeGroups[${i}].machineFlavor`
        : source(
            d,
            ['nodeGroupDefaults', 'machineFlavor'],
            c.workers.flavor
              ? 'cluster.workers.flavor'
              : 'cluster.workers.flavor (the control plane flavor by default)',
          ),
      rootVolumeGb:
        Number(dig(g, 'machineRootVolume', 'diskSize') ?? dig(defaults, 'machineRootVolume', 'diskSize')) || undefined,
    });
  });
  return pools;
}

/** Every image the values name: global, then the control plane's and the node groups' overrides. */
function imageRefs(d: Desired, values: Values): Array<{ setting: string; name?: string; id?: string }> {
  const out: Array<{ setting: string; name?: string; id?: string }> = [];
  const add = (m: Values, path: string[]) => {
    const id = typeof m.machineImageId === 'string' && m.machineImageId ? m.machineImageId : undefined;
    const name = typeof m.machineImage === 'string' && m.machineImage ? m.machineImage : undefined;
    if (!id && !name) return;
    const key = id ? 'machineImageId' : 'machineImage';
    const setting =
      path.length === 0 && !has(d.config.cluster.values, key)
        ? 'cluster.machineImage'
        : `cluster.values.${[...path, key].join('.')}`;
    out.push(id ? { setting, id } : { setting, name });
  };
  add(values, []);
  add(map(values.controlPlane), ['controlPlane']);
  add(map(values.nodeGroupDefaults), ['nodeGroupDefaults']);
  if (Array.isArray(values.nodeGroups)) values.nodeGroups.forEach((g, i) => add(map(g), [`nodeGroups[${i}]`]));
  return out;
}

async function checkImages(cloud: PreflightCloud, d: Desired, values: Values, problems: string[]): Promise<void> {
  let names: string[] | undefined;
  for (const ref of imageRefs(d, values)) {
    const key = ref.id ?? ref.name ?? '';
    const found = (await cloud.findImages(ref.id ? { id: ref.id } : { name: ref.name })).filter((i) =>
      ref.id ? i.id === ref.id : i.name === ref.name,
    );
    if (found.length === 0) {
      names ??= ref.id ? [] : await cloud.listImageNames();
      const near = ref.id ? [] : closestNames(key, names);
      problems.push(
        `${ref.setting}: image ${ref.id ? 'id ' : ''}"${key}" not found in Glance${near.length ? `; closest: ${near.map((n) => `"${n}"`).join(', ')}` : ''}`,
      );
      continue;
    }
    const active = found.filter((i) => i.status === 'active');
    if (active.length === 0)
      problems.push(`${ref.setting}: image "${key}" exists but is ${found[0]!.status}, not active`);
    else if (active.length > 1) {
      problems.push(
        `${ref.setting}: ${active.length} active images are named "${key}" (${active.map((i) => i.id).join(', ')}); CAPO needs exactly one, so give its id`,
      );
    }
  }
}

function flavorOf(pool: Pool, flavors: readonly Flavor[], problems: string[]): Flavor | undefined {
  const f = flavors.find((x) => x.name === pool.flavor) ?? flavors.find((x) => x.id === pool.flavor);
  if (!f) {
    const near = closestNames(
      pool.flavor,
      flavors.map((x) => x.name),
    );
    problems.push(
      pool.flavor
        ? `${pool.flavorSetting}: flavor "${pool.flavor}" (${pool.what}) not found${near.length ? `; closest: ${near.map((n) => `"${n}"`).join(', ')}` : ''}`
        : `${pool.flavorSetting}: no flavor for the ${pool.what}`,
    );
  }
  return f;
}

/** The Octavia load balancer CAPO makes for the API server of cluster `default/<name>`. */
const apiLoadBalancerName = (cluster: string): string => `k8s-clusterapi-cluster-default-${cluster}-kubeapi`;

function quotaProblem(
  what: string,
  need: number,
  q: QuotaUsage,
  owned: number,
  why: string,
  unit = '',
): string | undefined {
  if (q.limit < 0) return undefined;
  const free = q.limit - q.used + owned;
  if (need <= free) return undefined;
  return `${why}: the cluster needs ${need}${unit} ${what} at its peak, but the project's quota leaves ${Math.max(free, 0)}${unit} (limit ${q.limit}${unit}, ${q.used}${unit} in use${owned ? `, ${owned}${unit} of them this cluster's` : ''})`;
}

/**
 * What the cluster's machines hold now: servers named after one of its
 * pools (not merely after the cluster: the seed is `<cluster>-seed`), with
 * their flavors and, when booted from a volume, the configured root volume.
 */
function ownedBy(servers: readonly Server[], pools: readonly Pool[], flavors: readonly Flavor[]): Demand {
  const owned: Demand = {
    instances: 0,
    cores: 0,
    ramMb: 0,
    volumes: 0,
    gigabytes: 0,
    floatingIps: 0,
    loadBalancers: 0,
  };
  for (const s of servers) {
    const pool = pools.find((p) => s.name.startsWith(p.serverPrefix));
    if (!pool) continue;
    const f =
      s.flavor.vcpus !== undefined ? s.flavor : flavors.find((x) => x.id === s.flavor.id || x.name === s.flavor.name);
    owned.instances += 1;
    owned.cores += f?.vcpus ?? 0;
    owned.ramMb += f?.ram ?? 0;
    if (s.imageId === null) {
      owned.volumes += 1;
      owned.gigabytes += pool.rootVolumeGb ?? 0;
    }
  }
  return owned;
}

export async function preflight(cloud: PreflightCloud, d: Desired, values: Values): Promise<PreflightReport> {
  const problems: string[] = [];
  const pools = poolsOf(d, values);
  const api = map(values.apiServer);
  const lbUsed = api.enableLoadBalancer !== false;
  const fipUsed = api.associateFloatingIP !== false;
  const rootVolumes = pools.some((p) => p.rootVolumeGb !== undefined);

  const [flavors, lbService, volumeService] = await Promise.all([
    cloud.listFlavors(),
    lbUsed ? cloud.hasService('load-balancer') : Promise.resolve(false),
    rootVolumes ? cloud.hasService('block-storage') : Promise.resolve(false),
  ]);
  await checkImages(cloud, d, values, problems);

  const demand: Demand = {
    instances: 0,
    cores: 0,
    ramMb: 0,
    volumes: 0,
    gigabytes: 0,
    floatingIps: 0,
    loadBalancers: 0,
  };
  let sized = true;
  let flavorsKnown = true;
  for (const p of pools) {
    const n = p.count + p.surge;
    demand.instances += n;
    if (p.rootVolumeGb !== undefined) {
      demand.volumes += n;
      demand.gigabytes += n * p.rootVolumeGb;
    }
    if (p.flavor === KNOWN_AFTER_SEED) {
      // The seed's flavor is not known yet: it, cores and RAM are checked once it is.
      sized = false;
      flavorsKnown = false;
      continue;
    }
    const f = flavorOf(p, flavors, problems);
    if (!f) {
      sized = false;
      continue;
    }
    demand.cores += n * f.vcpus;
    demand.ramMb += n * f.ram;
  }
  if (fipUsed) demand.floatingIps = 1;
  if (lbUsed) demand.loadBalancers = 1;

  // What this cluster already has counts as available to it: a re-run needs only the difference.
  const owned = ownedBy(await cloud.listServersByPrefix(`${d.clusterName}-`), pools, flavors);

  const sizes = pools.map((p) => `${p.what} ${p.count} + ${p.surge} surge`).join(', ');
  const counts = `${sizes} (${[...new Set(pools.map((p) => p.settings))].join(', ')}, and their rollout surge)`;
  const compute = await cloud.computeLimits();
  for (const x of [
    quotaProblem('instances', demand.instances, compute.instances, owned.instances, counts),
    sized
      ? quotaProblem(
          'vCPUs',
          demand.cores,
          compute.cores,
          owned.cores,
          `${counts} on ${pools.map((p) => `${p.flavor} (${p.flavorSetting})`).join(', ')}`,
        )
      : undefined,
    sized
      ? quotaProblem(
          'RAM',
          demand.ramMb,
          compute.ramMb,
          owned.ramMb,
          `${counts} on ${pools.map((p) => `${p.flavor} (${p.flavorSetting})`).join(', ')}`,
          ' MB',
        )
      : undefined,
  ])
    if (x) problems.push(x);

  if (rootVolumes) {
    const rv = 'cluster.controlPlane.rootVolume / cluster.workers.rootVolume';
    if (!volumeService)
      problems.push(
        `${rv}: the cloud has no block-storage service (Cinder) for root volumes; remove the root volume settings`,
      );
    else {
      const v = await cloud.volumeLimits();
      for (const x of [
        quotaProblem('volumes', demand.volumes, v.volumes, owned.volumes, `${rv} with ${counts}`),
        quotaProblem('of volumes', demand.gigabytes, v.gigabytes, owned.gigabytes, `${rv} with ${counts}`, ' GB'),
      ])
        if (x) problems.push(x);
    }
  }

  if (lbUsed) {
    if (!lbService) {
      problems.push(
        'cluster.apiServer.loadBalancer: the cloud has no load-balancer service (Octavia) in its catalog; set cluster.apiServer.loadBalancer: false',
      );
    } else {
      const q = await cloud.loadBalancerQuota();
      owned.loadBalancers = q.loadBalancers.filter((l) => l.name === apiLoadBalancerName(d.clusterName)).length;
      const x = quotaProblem(
        'load balancer',
        demand.loadBalancers,
        q,
        owned.loadBalancers,
        'cluster.apiServer.loadBalancer',
      );
      if (x) problems.push(x);
    }
  }
  if (fipUsed) {
    // Its API address: once the cluster exists (machines or its load balancer), it holds its floating IP.
    owned.floatingIps = owned.instances > 0 || owned.loadBalancers > 0 ? 1 : 0;
    const x = quotaProblem(
      'floating IP',
      demand.floatingIps,
      await cloud.floatingIpQuota(),
      owned.floatingIps,
      'cluster.apiServer.floatingIp',
    );
    if (x) problems.push(x);
  }

  if (problems.length) throw new PreflightError(problems);
  const gb = (mb: number) => Math.round((mb / 1024) * 10) / 10;
  const found = flavorsKnown ? 'image and flavors found' : 'image found (flavors checked once the seed exists)';
  const summary = `pre-flight: ${found}; quota covers the peak of ${demand.instances} instances${sized ? `, ${demand.cores} vCPUs, ${gb(demand.ramMb)} GB RAM` : ''}${rootVolumes ? `, ${demand.volumes} volumes (${demand.gigabytes} GB)` : ''}${fipUsed ? ', 1 floating IP' : ''}${lbUsed ? ', 1 load balancer' : ''}${owned.instances ? ` (${owned.instances} machines already this cluster's)` : ''}`;
  return { demand, owned, summary };
}
