/**
 * A readable diff of two chart values trees (the release's values as Helm
 * keeps them vs the desired ones), for plans and drift:
 *
 *   ~ controlPlane.machineCount: 1 -> 3
 *   + apiServer.allowedCIDRs: ["203.0.113.0/24"]
 *   - addons.ingress.enabled: true
 *
 * Both trees are normalised first, so only differences that change what the
 * chart renders are shown: `{}` merges to nothing, a value equal to the
 * chart's default (or `null` where the default is `null`) is the same as no
 * value, and a Kubernetes version reads the same with or without its `v`.
 * Secrets are never shown, not even as a digest: a changed credential is
 * `(sensitive) -> (sensitive)`. Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import { SECRET_KEYS } from '../../util/yaml-secrets.js';
import type { Values } from './values.js';

const SENSITIVE = '(sensitive)';

/**
 * The defaults of openstack-cluster 0.27.0 (and its cluster-addons) for the
 * keys the cluster layer or azimuth-ops set; a value equal to one of these
 * renders as if it were not set.
 */
export const CHART_DEFAULTS: Values = {
  cloudCACert: null,
  cloudName: 'openstack',
  kubernetesVersion: null,
  machineImage: null,
  machineImageId: null,
  machineSSHKeyName: null,
  kubeNetwork: {
    pods: { cidrBlocks: ['172.16.0.0/13'] },
    services: { cidrBlocks: ['172.24.0.0/13'] },
    serviceDomain: 'cluster.local',
  },
  clusterNetworking: {
    disableExternalNetwork: false,
    manageSecurityGroups: true,
    allowAllInClusterTraffic: true,
    workerNodesSecurityGroupRules: [],
    controlPlaneNodesSecurityGroupRules: [],
    externalNetworkId: null,
    internalNetwork: { networkFilter: null, subnetFilter: null, nodeCidr: '192.168.3.0/24', dnsNameservers: null },
  },
  registryMirrors: Object.fromEntries(
    ['docker.io', 'ghcr.io', 'nvcr.io', 'quay.io', 'registry.k8s.io'].map((r) => [
      r,
      [`https://quay.io/v2/azimuth/${r}`],
    ]),
  ),
  trustedCAs: {},
  additionalPackages: [],
  apiServer: {
    enableLoadBalancer: true,
    loadBalancerProvider: null,
    associateFloatingIP: true,
    floatingIP: null,
    fixedIP: null,
    port: 6443,
    logLevel: 2,
  },
  controlPlane: {
    failureDomains: null,
    omitFailureDomain: true,
    machineCount: 3,
    kubernetesVersion: null,
    machineImage: null,
    machineImageId: null,
    machineFlavor: null,
    machineRootVolume: { diskSize: null },
  },
  nodeGroupDefaults: {
    autoscale: false,
    failureDomain: null,
    machineFlavor: null,
    machineImage: null,
    machineImageId: null,
    kubernetesVersion: null,
    machineRootVolume: { diskSize: null },
    rolloutStrategy: {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 1, maxSurge: 0, deletePolicy: 'Random' },
    },
  },
  nodeGroups: [{ name: 'md-0', machineCount: 3 }],
  addons: {
    enabled: true,
    nodeFeatureDiscovery: { enabled: true },
    nvidiaGPUOperator: { enabled: true },
    mellanoxNetworkOperator: { enabled: true },
    ingress: { enabled: false },
    monitoring: {
      enabled: false,
      kubePrometheusStack: {
        release: {
          values: {
            alertmanager: {
              alertmanagerSpec: {
                retention: '168h',
                storage: {
                  volumeClaimTemplate: {
                    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } },
                  },
                },
              },
            },
            prometheus: {
              prometheusSpec: {
                retention: '90d',
                storageSpec: {
                  volumeClaimTemplate: {
                    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } },
                  },
                },
              },
            },
          },
        },
      },
      lokiStack: {
        enabled: true,
        release: {
          values: {
            loki: {
              config: { compactor: { retention_enabled: true }, limits_config: { retention_period: '72h' } },
              persistence: { enabled: true, size: '10Gi' },
            },
          },
        },
      },
      blackboxExporter: { enabled: true, openstackAuthUrlTarget: { enabled: true } },
    },
  },
};

export interface ValuesDiffEntry {
  op: '+' | '-' | '~';
  /** `controlPlane.machineCount`, `registryMirrors["docker.io"]`, `nodeGroups[0].name`. */
  path: string;
  /** Rendered for people; `(sensitive)` for secrets. */
  before?: string;
  after?: string;
}

export interface ValuesDiffOptions {
  /** Paths (segments) whose values, subtrees included, are secret (from `clusterValues`). */
  secretPaths?: readonly (readonly string[])[];
  /** The chart's defaults (default: openstack-cluster 0.27.0's). */
  defaults?: Values;
  /** Masks any known secret text left in a rendered value (the run's Redactor). */
  redact?: (text: string) => string;
}

const isMap = (v: unknown): v is Values => v !== null && typeof v === 'object' && !Array.isArray(v);

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

const VERSION_KEYS = new Set(['kubernetesVersion']);

/**
 * The tree as the chart sees it: `{}` and values equal to the default
 * dropped (a `null` that deletes a non-null default is kept), versions with
 * their `v`.
 */
export function normaliseValues(v: Values, defaults: Values = CHART_DEFAULTS): Values {
  const out: Values = {};
  for (const key of Object.keys(v).sort()) {
    const has = Object.prototype.hasOwnProperty.call(defaults, key);
    const def = has ? defaults[key] : undefined;
    let val = v[key];
    if (VERSION_KEYS.has(key) && typeof val === 'string' && /^\d/.test(val)) val = `v${val}`;
    if (isMap(val)) {
      val = normaliseValues(val, isMap(def) ? def : {});
      if (Object.keys(val as Values).length === 0) continue;
    } else if (Array.isArray(val)) {
      val = val.map((x) => (isMap(x) ? normaliseValues(x, {}) : x));
    }
    if (val === null && (!has || def === null)) continue;
    if (has && deepEqual(val, def)) continue;
    out[key] = val;
  }
  return out;
}

function formatPath(segs: readonly (string | number)[]): string {
  let out = '';
  for (const s of segs) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out || '(root)';
}

const MAX_INLINE = 100;

/** Long or multi-line text shows its size and a short digest instead of itself. */
function render(v: unknown, redact: (t: string) => string): string {
  if (typeof v === 'string' && (v.includes('\n') || v.length > MAX_INLINE)) {
    const lines = v.replace(/\n$/, '').split('\n').length;
    const digest = createHash('sha256').update(v).digest('hex').slice(0, 12);
    return `(text, ${lines} line${lines === 1 ? '' : 's'}, ${v.length} characters, sha256 ${digest})`;
  }
  const json = JSON.stringify(v) ?? 'undefined';
  const text = redact(json);
  if (text.length <= MAX_INLINE) return text;
  const digest = createHash('sha256').update(json).digest('hex').slice(0, 12);
  return `${text.slice(0, MAX_INLINE - 1)}… (sha256 ${digest})`;
}

/** The chart's default at a path of map keys (none inside lists). */
function defaultAt(defaults: Values, segs: readonly (string | number)[]): unknown {
  let cur: unknown = defaults;
  for (const s of segs) {
    if (typeof s === 'number' || !isMap(cur) || !Object.prototype.hasOwnProperty.call(cur, s)) return undefined;
    cur = cur[s];
  }
  return cur;
}

export function diffValues(observed: Values, desired: Values, opts: ValuesDiffOptions = {}): ValuesDiffEntry[] {
  const defaults = opts.defaults ?? CHART_DEFAULTS;
  const redact = opts.redact ?? ((t: string) => t);
  const secretPaths = opts.secretPaths ?? [];
  const isSecret = (segs: readonly (string | number)[]): boolean => {
    const s = segs.map(String);
    if (secretPaths.some((p) => p.length <= s.length && p.every((x, i) => x === s[i]))) return true;
    // Whatever the caller knows: credentials under `clouds` and registry logins are secrets.
    if (s[0] === 'registryAuth') return true;
    return s[0] === 'clouds' && s.some((x) => SECRET_KEYS.has(x));
  };

  const out: ValuesDiffEntry[] = [];
  const show = (v: unknown, secret: boolean): string => (secret ? SENSITIVE : render(v, redact));
  const walk = (a: unknown, b: unknown, segs: (string | number)[]): void => {
    const secret = isSecret(segs);
    if (!secret) {
      if ((isMap(a) || a === undefined) && (isMap(b) || b === undefined) && (a !== undefined || b !== undefined)) {
        const keys = [...new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])].sort();
        for (const k of keys) walk((a as Values | undefined)?.[k], (b as Values | undefined)?.[k], [...segs, k]);
        return;
      }
      if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
        a.forEach((x, i) => walk(x, b[i], [...segs, i]));
        return;
      }
    }
    if (deepEqual(a, b)) return;
    const path = formatPath(segs);
    // Unset where the chart has a default: the change is to or from that default.
    const def = defaultAt(defaults, segs);
    const orDefault = (v: unknown): string =>
      v === undefined ? `${show(def, secret)} (chart default)` : show(v, secret);
    if (def !== undefined) out.push({ op: '~', path, before: orDefault(a), after: orDefault(b) });
    else if (a === undefined) out.push({ op: '+', path, after: show(b, secret) });
    else if (b === undefined) out.push({ op: '-', path, before: show(a, secret) });
    else out.push({ op: '~', path, before: show(a, secret), after: show(b, secret) });
  };
  walk(normaliseValues(observed, defaults), normaliseValues(desired, defaults), []);
  return out;
}

/** One line per entry, in path order. */
export function renderValuesDiff(entries: readonly ValuesDiffEntry[]): string[] {
  return entries.map((e) =>
    e.op === '~' ? `~ ${e.path}: ${e.before} -> ${e.after}` : `${e.op} ${e.path}: ${e.op === '+' ? e.after : e.before}`,
  );
}
