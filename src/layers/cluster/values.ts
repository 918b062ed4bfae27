/**
 * The `openstack-cluster` chart values for the management cluster, from the
 * environment and what the seed layers found, mapped the way azimuth-ops
 * maps its `capi_cluster_*` variables (so an azimuth release is adopted
 * with the same values, not rolled). Pure: no I/O.
 *
 * Chart traps this module takes care of (chart 0.27.0):
 * - `kubernetesVersion` must be a string: a YAML number fails the render
 *   (and `1.30` would silently read as `1.3`), so a number is an error;
 * - the load balancer's CIDRs are `apiServer.allowedCIDRs` (not `allowedCidrs`);
 * - `registryMirrors` deep-merges into the chart's defaults (quay.io/v2/azimuth/<registry>):
 *   `{}` keeps them all, a registry listed here replaces only that
 *   registry's mirrors, `[]` sends that registry to its upstream, and only
 *   `null` (in `cluster.values`) drops every default;
 * - `clusterNetworking.controlPlaneNodesSecurityGroupRules` renders only as a
 *   YAML string: a list from `cluster.values` is turned into one;
 * - `clusterNetworking.dnsNameservers` applies only to a subnet the chart
 *   makes, and the nodes always join an existing network here (the seed's
 *   unless set), so it has no effect: it is passed as azimuth does, with a note.
 */
import { stringify } from 'yaml';
import type { Desired } from '../../model/desired.js';
import { SECRET_KEYS } from '../../util/yaml-secrets.js';

export type Values = Record<string, unknown>;

/** What the seed layers found (absent before they exist: the plan then shows placeholders). */
export interface SeedFacts {
  /** The seed network: the nodes' internal network unless `cluster.network.internalNetwork` is set. */
  networkId?: string;
  /** The seed's Nova keypair: the nodes' SSH key. */
  keypairName?: string;
  /** The seed's flavor (resolved from `seed.flavor`): the control plane's unless `cluster.controlPlane.flavor` is set. */
  flavorName?: string;
  externalNetworkId?: string;
}

/** The cloud the cluster's controllers (CAPO, the CCM, Cinder CSI) use: the run's own credential. */
export interface CloudFacts {
  /** The `openstack.cloud` entry of clouds.yaml as written (secrets as text). */
  entry: Record<string, unknown>;
  /** The project the run's token is scoped to (azimuth injects it as `auth.project_id`). */
  projectId: string;
  /** PEM of the CAs to trust for the OpenStack APIs (clouds.yaml `cacert` and/or `openstack.caBundle`). */
  caPem?: string;
}

export interface ClusterValues {
  values: Values;
  /**
   * Value paths (segments) whose values, whole subtrees included, are
   * secrets: never shown, even changed.
   */
  secretPaths: string[][];
  /** Paths still waiting for a seed fact (plan placeholders); apply must not run with any. */
  unknownPaths: string[][];
  /** Settings that have no effect as written, for the plan's notes. */
  notes: string[];
}

/** Shown where a value is known only once the seed layers have run. */
export const KNOWN_AFTER_SEED = '(known after the seed is created)';

/** One problem per setting, all at once. */
export class ClusterValuesError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ClusterValuesError';
  }
}

const isMap = (v: unknown): v is Values => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Helm's merge of user values: maps merge key by key, anything else
 * (lists, scalars, `null`) replaces. A `null` is kept: Helm then deletes
 * the chart default under that key.
 */
export function mergeValues(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isMap(b) && isMap(v) ? mergeValues(b, v) : structuredClone(v);
  }
  return out;
}

/** The clouds.yaml entry as CAPO and the cluster's addons read it, with the project injected. */
function cloudsEntry(cloud: CloudFacts): Values {
  const entry = structuredClone(cloud.entry);
  // A `cacert` path names a file on the runner; the chart ships the CA itself (`cloudCACert`).
  delete entry.cacert;
  const auth = isMap(entry.auth) ? entry.auth : {};
  entry.auth = { ...auth, project_id: cloud.projectId };
  return entry;
}

function rootVolume(v: { size: number; type?: string; availabilityZone?: string } | undefined): Values | undefined {
  if (!v) return undefined;
  const out: Values = { diskSize: v.size };
  if (v.type) out.volumeType = v.type;
  if (v.availabilityZone) out.availabilityZone = v.availabilityZone;
  return out;
}

/** Monitoring addons: the stack azimuth installs, with retentions and volume sizes from `monitoring`. */
function monitoringValues(d: Desired): Values {
  const m = d.config.monitoring;
  const claim = (size: string): Values => ({ spec: { resources: { requests: { storage: size } } } });
  return {
    enabled: true,
    kubePrometheusStack: {
      release: {
        values: {
          alertmanager: {
            alertmanagerSpec: {
              retention: m.alertmanager.retention,
              storage: { volumeClaimTemplate: claim(m.alertmanager.volumeSize) },
            },
          },
          prometheus: {
            prometheusSpec: {
              retention: m.prometheus.retention,
              storageSpec: { volumeClaimTemplate: claim(m.prometheus.volumeSize) },
            },
          },
        },
      },
    },
    lokiStack: {
      release: {
        values: {
          loki: {
            config: { limits_config: { retention_period: m.loki.retention } },
            persistence: { size: m.loki.volumeSize },
          },
        },
      },
    },
    // Probes the auth URL of the clouds.yaml entry above.
    blackboxExporter: { openstackAuthUrlTarget: { enabled: true } },
  };
}

/** Where a Kubernetes version may sit in the merged values. */
function versionPaths(values: Values): Array<{ path: string; value: unknown }> {
  const out: Array<{ path: string; value: unknown }> = [];
  const at = (path: string, parent: unknown, key: string) => {
    if (isMap(parent) && parent[key] !== undefined && parent[key] !== null) out.push({ path, value: parent[key] });
  };
  at('kubernetesVersion', values, 'kubernetesVersion');
  at('controlPlane.kubernetesVersion', values.controlPlane, 'kubernetesVersion');
  at('nodeGroupDefaults.kubernetesVersion', values.nodeGroupDefaults, 'kubernetesVersion');
  if (Array.isArray(values.nodeGroups)) {
    values.nodeGroups.forEach((g, i) => at(`nodeGroups[${i}].kubernetesVersion`, g, 'kubernetesVersion'));
  }
  return out;
}

function hasImage(values: Values): boolean {
  const cp = isMap(values.controlPlane) ? values.controlPlane : {};
  const ng = isMap(values.nodeGroupDefaults) ? values.nodeGroupDefaults : {};
  const set = (m: Values) => Boolean(m.machineImage || m.machineImageId);
  return set(values) || (set(cp) && set(ng));
}

/** The secret keys of the clouds.yaml entry, and anything under `registryAuth`. */
function secretPathsOf(values: Values): string[][] {
  const out: string[][] = [];
  const auth = isMap(values.clouds) && isMap(values.clouds.openstack) ? values.clouds.openstack.auth : undefined;
  if (isMap(auth))
    for (const k of Object.keys(auth)) if (SECRET_KEYS.has(k)) out.push(['clouds', 'openstack', 'auth', k]);
  if (values.registryAuth !== undefined && values.registryAuth !== null) out.push(['registryAuth']);
  return out;
}

export function clusterValues(d: Desired, seed: SeedFacts, cloud: CloudFacts): ClusterValues {
  const c = d.config.cluster;
  const problems: string[] = [];
  const notes: string[] = [];
  const unknownPaths: string[][] = [];
  const known = (v: string | undefined, path: string[]): string => {
    if (v !== undefined) return v;
    unknownPaths.push(path);
    return KNOWN_AFTER_SEED;
  };

  const values: Values = { clouds: { openstack: cloudsEntry(cloud) } };
  if (cloud.caPem?.trim()) values.cloudCACert = cloud.caPem;
  values.kubernetesVersion = c.kubernetesVersion;
  if (c.machineImage?.id) values.machineImageId = c.machineImage.id;
  else if (c.machineImage?.name) values.machineImage = c.machineImage.name;
  values.machineSSHKeyName = known(seed.keypairName, ['machineSSHKeyName']);

  const internal = c.network.internalNetwork;
  const networkFilter: Values = internal?.id
    ? { id: internal.id }
    : internal?.name
      ? { name: internal.name }
      : { id: known(seed.networkId, ['clusterNetworking', 'internalNetwork', 'networkFilter', 'id']) };
  const clusterNetworking: Values = { internalNetwork: { networkFilter } };
  if (seed.externalNetworkId) clusterNetworking.externalNetworkId = seed.externalNetworkId;
  if (c.network.dnsNameservers.length) {
    clusterNetworking.dnsNameservers = c.network.dnsNameservers;
    notes.push(
      'cluster.network.dnsNameservers has no effect: the nodes join an existing network (the seed network unless cluster.network.internalNetwork is set), whose subnet sets their DNS servers (seed.network.dnsNameservers)',
    );
  }
  values.clusterNetworking = clusterNetworking;

  const kubeNetwork: Values = {};
  if (c.network.podCidr) kubeNetwork.pods = { cidrBlocks: [c.network.podCidr] };
  if (c.network.serviceCidr) kubeNetwork.services = { cidrBlocks: [c.network.serviceCidr] };
  if (Object.keys(kubeNetwork).length) values.kubeNetwork = kubeNetwork;

  const api = c.apiServer;
  const apiServer: Values = { enableLoadBalancer: api.loadBalancer, associateFloatingIP: api.floatingIp };
  if (api.loadBalancerProvider) apiServer.loadBalancerProvider = api.loadBalancerProvider;
  if (api.allowedCidrs.length) apiServer.allowedCIDRs = api.allowedCidrs;
  if (!api.loadBalancer && (api.loadBalancerProvider || api.allowedCidrs.length)) {
    notes.push(
      'cluster.apiServer.loadBalancerProvider and cluster.apiServer.allowedCidrs have no effect without cluster.apiServer.loadBalancer',
    );
  }
  values.apiServer = apiServer;

  const cpFlavor = c.controlPlane.flavor ?? seed.flavorName;
  if (cpFlavor === undefined) unknownPaths.push(['controlPlane', 'machineFlavor']);
  const controlPlane: Values = {
    machineCount: c.controlPlane.count,
    machineFlavor: cpFlavor ?? KNOWN_AFTER_SEED,
    omitFailureDomain: c.controlPlane.omitFailureDomain,
    failureDomains: c.controlPlane.failureDomains.length ? c.controlPlane.failureDomains : null,
  };
  if (c.controlPlane.omitFailureDomain && c.controlPlane.failureDomains.length) {
    notes.push(
      'cluster.controlPlane.failureDomains has no effect while cluster.controlPlane.omitFailureDomain is true',
    );
  }
  const cpRoot = rootVolume(c.controlPlane.rootVolume);
  if (cpRoot) controlPlane.machineRootVolume = cpRoot;
  values.controlPlane = controlPlane;

  // azimuth: the workers' flavor is the control plane's unless set.
  const workerFlavor = c.workers.flavor ?? cpFlavor;
  if (workerFlavor === undefined) unknownPaths.push(['nodeGroupDefaults', 'machineFlavor']);
  const nodeGroupDefaults: Values = {
    machineFlavor: workerFlavor ?? KNOWN_AFTER_SEED,
    failureDomain: c.workers.failureDomain,
    rolloutStrategy: {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: c.workers.maxUnavailable, maxSurge: c.workers.maxSurge },
    },
  };
  const workerRoot = rootVolume(c.workers.rootVolume);
  if (workerRoot) nodeGroupDefaults.machineRootVolume = workerRoot;
  values.nodeGroupDefaults = nodeGroupDefaults;
  values.nodeGroups = [{ name: 'md-0', machineCount: c.workers.count }];
  if (c.workers.maxSurge === 0 && c.workers.maxUnavailable === 0) {
    problems.push(
      'cluster.workers: maxSurge and maxUnavailable are both 0, so a rollout could never replace a worker; set one of them above 0',
    );
  }

  values.registryMirrors = c.registryMirrors;
  values.trustedCAs = c.trustBundle;
  values.addons = {
    // azimuth's capi-mgmt: no GPU, NIC or ingress operators on the management cluster.
    nodeFeatureDiscovery: { enabled: false },
    nvidiaGPUOperator: { enabled: false },
    mellanoxNetworkOperator: { enabled: false },
    ingress: { enabled: false },
    monitoring: monitoringValues(d),
  };

  // A copy: the tree shares no object with the configuration, so callers may change it freely.
  const merged = mergeValues(structuredClone(values), c.values);

  const rules = isMap(merged.clusterNetworking) ? merged.clusterNetworking : undefined;
  if (rules && Array.isArray(rules.controlPlaneNodesSecurityGroupRules)) {
    // The chart indents this value as text: a list fails the render.
    rules.controlPlaneNodesSecurityGroupRules = rules.controlPlaneNodesSecurityGroupRules.length
      ? stringify(rules.controlPlaneNodesSecurityGroupRules)
      : [];
  }

  for (const { path, value } of versionPaths(merged)) {
    if (typeof value !== 'string') {
      problems.push(
        `cluster.values.${path}: expected a string such as "v1.33.10", found the ${typeof value} ${JSON.stringify(value)}; quote it (the chart fails on a number, and 1.30 reads as 1.3)`,
      );
    }
  }
  if (!hasImage(merged)) {
    problems.push(
      'cluster.machineImage: not set; the nodes need an image matching cluster.kubernetesVersion, e.g. {name: ubuntu-jammy-kube-v1.33.10}',
    );
  }
  if (problems.length) throw new ClusterValuesError(problems);

  return { values: merged, secretPaths: secretPathsOf(merged), unknownPaths, notes };
}
