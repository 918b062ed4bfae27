/**
 * The plan is data: stable, sorted, JSON-serialisable, secrets redacted, with
 * a content hash that apply can compare against an approved plan.
 */
import { createHash } from 'node:crypto';
import type { Redactor } from '../util/redact.js';

export const ACTIONS = ['create', 'update', 'replace', 'delete', 'no-op'] as const;
export type ChangeAction = (typeof ACTIONS)[number];

export const LAYER_ORDER = ['seed-infra', 'seed-k3s', 'seed-capi', 'cluster', 'platform'] as const;
export type LayerName = (typeof LAYER_ORDER)[number] | (string & {});

export interface Change {
  layer: LayerName;
  /** Stable identity inside the layer, e.g. `security-group/capi-mgmt-prod-seed`. */
  address: string;
  action: ChangeAction;
  /** Observed state (for update/replace/delete/no-op). */
  before?: unknown;
  /** Desired state (for create/update/replace/no-op). */
  after?: unknown;
  /** Why this change is needed, in words a reviewer understands. */
  reason?: string;
}

export type Counts = Record<ChangeAction, number>;

export interface Plan {
  environment: string;
  /** Layers in the order they were planned. */
  layers: string[];
  changes: Change[];
  counts: Counts;
  /** sha256 over the normalised changes: equal plans have equal hashes. */
  hash: string;
  /** Things a reviewer should know that are not changes (e.g. "no block storage: data volume skipped"). */
  notes: string[];
}

export function countChanges(changes: readonly Change[]): Counts {
  const counts: Counts = { create: 0, update: 0, replace: 0, delete: 0, 'no-op': 0 };
  for (const c of changes) counts[c.action]++;
  return counts;
}

/** Sorting keeps layer order first, then addresses, so output and hash are stable. */
function sortChanges(changes: readonly Change[], layers: readonly string[]): Change[] {
  const rank = (l: string): number => {
    const i = layers.indexOf(l);
    return i === -1 ? layers.length : i;
  };
  return [...changes].sort((a, b) => rank(a.layer) - rank(b.layer) || a.address.localeCompare(b.address));
}

/** JSON with object keys sorted, so semantically equal values serialise identically. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)));
    }
    return v;
  });
}

export function buildPlan(args: {
  environment: string;
  layers: readonly string[];
  changes: readonly Change[];
  notes?: readonly string[];
  redactor?: Redactor;
}): Plan {
  const clean = (c: Change): Change => {
    const out: Change = { layer: c.layer, address: c.address, action: c.action };
    if (c.before !== undefined) out.before = args.redactor ? args.redactor.redactValue(c.before) : c.before;
    if (c.after !== undefined) out.after = args.redactor ? args.redactor.redactValue(c.after) : c.after;
    if (c.reason !== undefined) out.reason = args.redactor ? args.redactor.redact(c.reason) : c.reason;
    return out;
  };
  const changes = sortChanges(args.changes.map(clean), args.layers);
  const notes = [...(args.notes ?? [])].map((n) => (args.redactor ? args.redactor.redact(n) : n));
  return {
    environment: args.environment,
    layers: [...args.layers],
    changes,
    counts: countChanges(changes),
    hash: planHash(args.environment, changes),
    notes,
  };
}

/** The hash covers what would be done, not the no-ops' observed noise. */
export function planHash(environment: string, changes: readonly Change[]): string {
  const material = changes
    .filter((c) => c.action !== 'no-op')
    .map((c) => ({ layer: c.layer, address: c.address, action: c.action, after: c.after ?? null }));
  return createHash('sha256').update(canonicalJson({ environment, material })).digest('hex');
}

export function hasChanges(plan: Plan): boolean {
  return plan.changes.some((c) => c.action !== 'no-op');
}
