/**
 * The plan is data: stable, sorted, JSON-serialisable, secrets redacted, with
 * a content hash that apply can compare against an approved plan.
 */
import { createHash, createHmac, scryptSync } from 'node:crypto';
import { canonicalJson } from '../util/canonical-json.js';
import type { Redactor } from '../util/redact.js';

export type ChangeAction = 'create' | 'update' | 'replace' | 'delete' | 'no-op';

/** The known layers, in run order; any other name is allowed for tests. */
export type LayerName = 'seed-infra' | 'seed-k3s' | 'seed-capi' | 'cluster' | 'platform' | (string & {});

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

type Counts = Record<ChangeAction, number>;

export interface Plan {
  environment: string;
  /** Layers in the order they were planned. */
  layers: string[];
  changes: Change[];
  counts: Counts;
  /**
   * sha256 over the normalised changes and the configuration secrets'
   * fingerprint: equal plans have equal hashes, and rotating a secret
   * (which shows as `(sensitive)` either way) changes the hash.
   */
  hash: string;
  /** Things a reviewer should know that are not changes (e.g. "no block storage: data volume skipped"). */
  notes: string[];
}

function countChanges(changes: readonly Change[]): Counts {
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
    hash: planHash(args.environment, changes, secretsFingerprint(args.environment, args.redactor?.configSecrets())),
    notes,
  };
}

/**
 * The hash covers what would be done, not the no-ops' observed noise, and
 * the secrets the changes are made with (through their fingerprint, never
 * their values): the redacted changes alone look the same before and after
 * a secret is rotated, so an approval would carry over to a new secret.
 */
function planHash(environment: string, changes: readonly Change[], secrets?: string): string {
  const material = changes
    .filter((c) => c.action !== 'no-op')
    .map((c) => ({ layer: c.layer, address: c.address, action: c.action, after: c.after ?? null }));
  const hashed = secrets === undefined ? { environment, material } : { environment, material, secrets };
  return createHash('sha256').update(canonicalJson(hashed)).digest('hex');
}

/** scrypt cost: about 30 ms and 16 MiB per plan, a real price on every offline guess. */
const SCRYPT = { N: 2 ** 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const fingerprints = new WeakMap<readonly string[], string>();

/**
 * A keyed fingerprint of the configuration's secrets, stable across runs of
 * the same configuration and revealing nothing about any one value.
 *
 * Why this key: the plan hash is compared across jobs (the pull request's
 * plan, the push's apply), so the key cannot be random per run, and there
 * is no private state to keep one in. A fixed or published key would let
 * anyone holding the public plan hash test guesses of a weak secret at
 * hashing speed. So the key is derived from the whole secret set itself
 * (scrypt, salted with the environment name): to test a guess of one
 * secret an attacker must guess every other secret of the environment at
 * the same time (the OpenStack credential among them), and pay a
 * memory-hard scrypt per guess. The HMAC over a fixed label then turns that
 * key into the fingerprint, which is only ever mixed into the plan hash.
 */
function secretsFingerprint(environment: string, secrets: readonly string[] | undefined): string | undefined {
  if (!secrets || secrets.length === 0) return undefined;
  const cached = fingerprints.get(secrets);
  if (cached) return cached;
  const key = scryptSync(canonicalJson([...secrets].sort()), `capi-mgmt/plan-secrets/${environment}`, 32, SCRYPT);
  const fingerprint = createHmac('sha256', key).update('capi-mgmt plan secrets v1').digest('hex');
  fingerprints.set(secrets, fingerprint);
  return fingerprint;
}

export function hasChanges(plan: Plan): boolean {
  return plan.changes.some((c) => c.action !== 'no-op');
}
