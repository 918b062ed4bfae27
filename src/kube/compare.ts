/**
 * Pure helpers to compare live objects with what a server-side dry run says
 * they would become, and to read conditions. No I/O here.
 */
import type { KubeObject } from './objects.js';

/** Fields the server owns; a difference there is never a change we made. */
const NOISE_METADATA = ['managedFields', 'resourceVersion', 'generation', 'creationTimestamp', 'uid', 'selfLink'];

export function normalizeForDiff(o: KubeObject): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(o)) as Record<string, unknown>;
  delete copy.status;
  const meta = (copy.metadata ?? {}) as Record<string, unknown>;
  for (const k of NOISE_METADATA) delete meta[k];
  copy.metadata = meta;
  return copy;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Dotted paths where two JSON values differ (arrays compare whole, by index path). */
export function changedPaths(a: unknown, b: unknown, prefix = '', limit = 20): string[] {
  const out: string[] = [];
  const walk = (x: unknown, y: unknown, path: string): void => {
    if (out.length >= limit) return;
    if (isObject(x) && isObject(y)) {
      const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
      for (const k of keys) walk(x[k], y[k], path ? `${path}.${k}` : k);
      return;
    }
    if (Array.isArray(x) && Array.isArray(y) && x.length === y.length) {
      x.forEach((v, i) => walk(v, y[i], `${path}[${i}]`));
      return;
    }
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push(path || '(root)');
  };
  walk(a, b, prefix);
  return out;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

function conditionsOf(o: KubeObject | undefined): Condition[] {
  const status = o?.status;
  if (!isObject(status) || !Array.isArray(status.conditions)) return [];
  return status.conditions.filter((c): c is Condition => isObject(c) && typeof c.type === 'string');
}

export function hasCondition(o: KubeObject | undefined, type: string, status = 'True'): boolean {
  return conditionsOf(o).some((c) => c.type === type && c.status === status);
}

/** `Available=True, Progressing=True`: what progress lines show. */
export function describeConditions(o: KubeObject | undefined): string {
  if (!o) return 'not found';
  const cs = conditionsOf(o);
  return cs.length === 0 ? 'no conditions yet' : cs.map((c) => `${c.type}=${c.status}`).join(', ');
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

/**
 * A Deployment is rolled out the way `kubectl rollout status` sees it: the
 * controller saw the latest spec, every replica is updated and available,
 * and no old replica is left.
 */
export function deploymentRolledOut(o: KubeObject | undefined): boolean {
  if (!o) return false;
  const spec = (o.spec ?? {}) as Record<string, unknown>;
  const st = (o.status ?? {}) as Record<string, unknown>;
  const want = spec.replicas === undefined ? 1 : num(spec.replicas);
  const generation = num(o.metadata.generation);
  return (
    num(st.observedGeneration) >= generation &&
    num(st.updatedReplicas) >= want &&
    num(st.replicas) <= num(st.updatedReplicas) &&
    num(st.availableReplicas) >= want &&
    hasCondition(o, 'Available')
  );
}

export function describeDeployment(o: KubeObject | undefined): string {
  if (!o) return 'not found';
  const st = (o.status ?? {}) as Record<string, unknown>;
  const want = ((o.spec ?? {}) as Record<string, unknown>).replicas ?? 1;
  return `${num(st.availableReplicas)}/${String(want)} available, ${num(st.updatedReplicas)} updated`;
}
