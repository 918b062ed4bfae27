/**
 * The management cluster's health as azimuth-ops judges it before it calls
 * a deployment done: the Cluster's v1beta2 conditions, every
 * MachineDeployment `Running`, and the chart's addon objects `Deployed`.
 * Pure: the wait, the plan and drift all read the same verdict.
 */
import type { KubeObject } from '../../kube/index.js';

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** What observe reads of the cluster on the seed, reduced to what health needs. */
export interface ClusterState {
  /** Absent while the Cluster object does not exist. */
  cluster?: { conditions: Condition[]; phase?: string; deleting: boolean };
  machineDeployments: Array<{ name: string; phase?: string; replicas?: number; readyReplicas?: number }>;
  machines: Array<{
    name: string;
    phase?: string;
    role: 'control-plane' | 'worker';
    providerID?: string;
    failure?: string;
  }>;
  addons: Array<{ kind: string; name: string; phase?: string; message?: string }>;
}

/** The conditions azimuth-ops waits for, in its order, with the status each must have. */
const CLUSTER_WAITS: ReadonlyArray<readonly [type: string, status: 'True' | 'False']> = [
  ['Available', 'True'],
  ['RollingOut', 'False'],
  ['ControlPlaneMachinesUpToDate', 'True'],
  ['ControlPlaneAvailable', 'True'],
  ['WorkerMachinesUpToDate', 'True'],
  ['WorkersAvailable', 'True'],
];

/** One thing that is not yet as it must be. */
export interface Pending {
  /** `Cluster condition Available`, `MachineDeployment capi-mgmt-prod-md-0`, `HelmRelease …`. */
  subject: string;
  expected: string;
  actual: string;
  /** The controller's reason and message, when it gave one. */
  detail?: string;
}

const detailOf = (c: { reason?: string; message?: string }): string | undefined => {
  const parts = [c.reason, c.message?.trim()].filter((x): x is string => !!x);
  return parts.length > 0 ? parts.join(': ') : undefined;
};

export function pendingOf(s: ClusterState): Pending[] {
  if (!s.cluster) return [{ subject: 'Cluster', expected: 'exists', actual: 'absent' }];
  const out: Pending[] = [];
  if (s.cluster.deleting) out.push({ subject: 'Cluster', expected: 'present', actual: 'being deleted' });
  for (const [type, status] of CLUSTER_WAITS) {
    const c = s.cluster.conditions.find((x) => x.type === type);
    if (c?.status === status) continue;
    const p: Pending = { subject: `Cluster condition ${type}`, expected: status, actual: c?.status ?? 'not reported' };
    const d = c && detailOf(c);
    if (d) p.detail = d;
    out.push(p);
  }
  for (const md of s.machineDeployments) {
    if (md.phase !== 'Running') {
      out.push({ subject: `MachineDeployment ${md.name}`, expected: 'Running', actual: md.phase ?? 'no phase' });
    }
  }
  for (const m of s.machines) {
    if (m.failure)
      out.push({ subject: `Machine ${m.name}`, expected: 'no failure', actual: 'failed', detail: m.failure });
  }
  for (const a of s.addons) {
    if (a.phase !== 'Deployed') {
      const p: Pending = { subject: `${a.kind} ${a.name}`, expected: 'Deployed', actual: a.phase ?? 'no phase' };
      if (a.message) p.detail = a.message;
      out.push(p);
    }
  }
  return out;
}

/** A one-line summary of where the cluster is; the wait prints it each time it changes. */
export function progressLine(s: ClusterState): string {
  if (!s.cluster) return 'no Cluster yet';
  const phases = new Map<string, number>();
  for (const m of s.machines) {
    const key = `${m.role} ${m.phase ?? 'Pending'}`;
    phases.set(key, (phases.get(key) ?? 0) + 1);
  }
  const machines =
    s.machines.length === 0
      ? 'no machines'
      : [...phases.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, n]) => `${n} ${k}`)
          .join(', ');
  const conditions = CLUSTER_WAITS.map(([type, want]) => {
    const c = s.cluster!.conditions.find((x) => x.type === type);
    return c?.status === want ? undefined : `${type}=${c?.status ?? '?'}${c?.reason ? ` (${c.reason})` : ''}`;
  }).filter((x): x is string => !!x);
  const addons =
    s.addons.length === 0
      ? ''
      : `; addons ${s.addons.filter((a) => a.phase === 'Deployed').length}/${s.addons.length} Deployed`;
  return `machines: ${machines}; ${conditions.length === 0 ? 'conditions met' : conditions.join(', ')}${addons}`;
}

// ---- reading the objects (the shapes Cluster API v1beta2 and the addon provider write)

type Status = { conditions?: Condition[]; phase?: string; failureMessage?: string; failureReason?: string };
const statusOf = (o: KubeObject): Status => (o.status ?? {}) as Status;

export function stateOf(o: {
  cluster?: KubeObject;
  machineDeployments: readonly KubeObject[];
  machines: readonly KubeObject[];
  addons: readonly KubeObject[];
}): ClusterState {
  const s: ClusterState = {
    machineDeployments: o.machineDeployments.map((md) => {
      const st = md.status as { phase?: string; replicas?: number; readyReplicas?: number } | undefined;
      return { name: md.metadata.name!, ...pick(st, ['phase', 'replicas', 'readyReplicas']) };
    }),
    machines: o.machines.map((m) => {
      const st = statusOf(m);
      const spec = (m.spec ?? {}) as { providerID?: string };
      const labels = m.metadata.labels ?? {};
      const out: ClusterState['machines'][number] = {
        name: m.metadata.name!,
        role: 'cluster.x-k8s.io/control-plane' in labels ? 'control-plane' : 'worker',
      };
      if (st.phase) out.phase = st.phase;
      if (spec.providerID) out.providerID = spec.providerID;
      if (st.phase === 'Failed' || st.failureMessage) out.failure = st.failureMessage ?? st.failureReason ?? 'Failed';
      return out;
    }),
    addons: o.addons.map((a) => {
      const st = statusOf(a) as Status & { failureMessage?: string };
      const out: ClusterState['addons'][number] = { kind: a.kind, name: a.metadata.name! };
      if (st.phase) out.phase = st.phase;
      if (st.failureMessage) out.message = st.failureMessage;
      return out;
    }),
  };
  if (o.cluster) {
    const st = statusOf(o.cluster);
    s.cluster = { conditions: st.conditions ?? [], deleting: !!o.cluster.metadata.deletionTimestamp };
    if (st.phase) s.cluster.phase = st.phase;
  }
  return s;
}

function pick<T extends object, K extends keyof T>(o: T | undefined, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  if (!o) return out;
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
