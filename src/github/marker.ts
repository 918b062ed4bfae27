/**
 * Hidden markers that give our comments and issues an identity, and the
 * approved plan carried inside the PR comment. Both are HTML comments, so
 * GitHub renders neither.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Plan } from '../plan/plan.js';

const PLAN_STATUSES = ['planned', 'applying', 'applied', 'failed', 'plan-changed'] as const;
export type PlanStatus = (typeof PLAN_STATUSES)[number];

export interface PlanMarker {
  environment: string;
  /** Salted with the PR's issue URL (see saltedPlanHash). */
  planHash: string;
  status: PlanStatus;
}

export interface DriftMarker {
  environment: string;
  kind: 'drift';
}

const MARKER = /^<!-- capi-mgmt (\{.*?\}) -->/;
const PLAN_BLOCK = /<!-- capi-mgmt-plan ([A-Za-z0-9+/=]+) -->/;

export function writeMarker(m: PlanMarker | DriftMarker): string {
  // JSON.stringify never emits "-->" for these fields, but a hostile
  // environment name could not either: names are DNS labels.
  return `<!-- capi-mgmt ${JSON.stringify(m)} -->`;
}

function readJsonMarker(body: string): Record<string, unknown> | undefined {
  const m = MARKER.exec(body);
  if (!m) return undefined;
  try {
    const v = JSON.parse(m[1]!) as unknown;
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function readPlanMarker(body: string): PlanMarker | undefined {
  const v = readJsonMarker(body);
  if (!v || v.kind !== undefined) return undefined;
  const { environment, planHash, status } = v;
  if (typeof environment !== 'string' || typeof planHash !== 'string') return undefined;
  if (!PLAN_STATUSES.includes(status as PlanStatus)) return undefined;
  return { environment, planHash, status: status as PlanStatus };
}

export function readDriftMarker(body: string): DriftMarker | undefined {
  const v = readJsonMarker(body);
  return v && v.kind === 'drift' && typeof v.environment === 'string'
    ? { environment: v.environment, kind: 'drift' }
    : undefined;
}

/** Replace the marker at the top of a body, keeping the rest. */
export function replaceMarker(body: string, m: PlanMarker): string {
  return MARKER.test(body) ? body.replace(MARKER, writeMarker(m)) : `${writeMarker(m)}\n${body}`;
}

/**
 * The hash shown in the comment binds the plan to one PR (as dflook salts
 * with the issue URL), so an approval cannot be carried to another PR.
 */
export function saltedPlanHash(issueUrl: string, planHash: string): string {
  return createHash('sha256').update(`capi-mgmt/${issueUrl}\n${planHash}`).digest('hex');
}

/** What apply needs of the approved plan: its hash, and enough to show a diff. */
export interface ApprovedPlan {
  hash: string;
  environment: string;
  plan?: Plan;
  /** Why `plan` is missing or partial (too large for the comment). */
  trimmed?: 'before-values' | 'changes';
}

const encode = (v: unknown): string => gzipSync(Buffer.from(JSON.stringify(v))).toString('base64');

/**
 * The approved plan as a hidden block of at most `budget` characters. Only
 * real changes are kept (no-ops do not enter the hash); if that is too big
 * the observed `before` values go, then the changes, but the hash stays.
 */
export function writePlanBlock(plan: Plan, budget: number): string {
  const real = { ...plan, changes: plan.changes.filter((c) => c.action !== 'no-op') };
  const candidates: ApprovedPlan[] = [
    { hash: plan.hash, environment: plan.environment, plan: real },
    {
      hash: plan.hash,
      environment: plan.environment,
      plan: { ...real, changes: real.changes.map(({ before: _before, ...c }) => c) },
      trimmed: 'before-values',
    },
    { hash: plan.hash, environment: plan.environment, trimmed: 'changes' },
  ];
  for (const c of candidates) {
    const block = `<!-- capi-mgmt-plan ${encode(c)} -->`;
    if (block.length <= budget) return block;
  }
  return `<!-- capi-mgmt-plan ${encode(candidates[2])} -->`;
}

export function readPlanBlock(body: string): ApprovedPlan | undefined {
  const m = PLAN_BLOCK.exec(body);
  if (!m) return undefined;
  try {
    const v = JSON.parse(gunzipSync(Buffer.from(m[1]!, 'base64')).toString('utf8')) as ApprovedPlan;
    return typeof v.hash === 'string' && typeof v.environment === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}
