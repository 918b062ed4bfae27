/** A component set's plan: pure, one change per component from its declaration and what observe found. */
import { createHash } from 'node:crypto';
import semver from 'semver';
import type { LayerDiff } from '../engine/types.js';
import { diffRelease } from '../helm/index.js';
import { describeRef, refOf } from '../kube/index.js';
import type { Change } from '../plan/plan.js';
import { canonicalJson } from '../util/canonical-json.js';
import type {
  ComponentsObserved,
  ObservedAbsent,
  ObservedChart,
  ObservedComponent,
  ObservedManifest,
  ObservedObjects,
} from './observe.js';
import type { AbsentComponent, ChartComponent, Component, ManifestComponent, ObjectsComponent } from './types.js';

/** Values are summarised by digest: plans show that they change, not what they hold. */
export function valuesDigest(values: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(values)).digest('hex').slice(0, 12);
}

/** What the plan shows as the desired state of a component (never values, never object contents). */
function desiredState(c: Exclude<Component, AbsentComponent>): Record<string, unknown> {
  switch (c.kind) {
    case 'chart':
      return { chart: c.release, version: c.version, namespace: c.namespace, values: valuesDigest(c.values) };
    case 'manifest':
      return { version: c.version };
    case 'objects':
      return { objects: c.objects.map((o) => describeRef(refOf(o))) };
  }
}

function versionWord(before: string, after: string): string {
  const a = semver.coerce(before);
  const b = semver.coerce(after);
  if (a && b && semver.lt(b, a)) return `downgrade ${before} -> ${after}`;
  return `upgrade ${before} -> ${after}`;
}

const sameVersion = (a: string | undefined, b: string): boolean => a?.replace(/^v/, '') === b.replace(/^v/, '');

type Base = Pick<Change, 'layer' | 'address' | 'after'>;

function manifestChange(base: Base, c: ManifestComponent, o: ObservedManifest | undefined): Change {
  if (!o?.installed) return { ...base, action: 'create', reason: `${c.title} is not installed` };
  const before = { version: o.version };
  const reasons: string[] = [];
  if (!sameVersion(o.version, c.version)) reasons.push(versionWord(o.version ?? 'unknown', c.version));
  if (!o.managed) reasons.push('installed outside capi-mgmt: adopt it (server-side apply takes over its fields)');
  if (o.missingControllers.length > 0) reasons.push(`controllers missing: ${o.missingControllers.join(', ')}`);
  if (o.drift.length > 0) reasons.push(`drifted: ${o.drift.join('; ')}`);
  if (reasons.length === 0) return { ...base, action: 'no-op', before };
  return { ...base, action: 'update', before, reason: reasons.join('; ') };
}

function chartChange(base: Base, c: ChartComponent, o: ObservedChart | undefined): Change {
  if (!o?.installed)
    return { ...base, action: 'create', reason: `release ${c.namespace}/${c.release} is not installed` };
  const deployedValues = o.values ?? {};
  const before = { chart: c.release, version: o.version, namespace: c.namespace, values: valuesDigest(deployedValues) };
  const d = diffRelease(
    { chartVersion: o.version ?? '', values: deployedValues, status: o.status },
    { chartVersion: c.version, values: c.values },
  );
  if (!d.changed) return { ...base, action: 'no-op', before };
  const reasons: string[] = [];
  if (d.chartVersion) reasons.push(versionWord(d.chartVersion.before, d.chartVersion.after));
  if (d.valuePaths.length > 0) reasons.push(`values differ at ${d.valuePaths.join(', ')}`);
  if (d.unhealthyStatus) reasons.push(`release status is ${d.unhealthyStatus}`);
  return { ...base, action: 'update', before, reason: reasons.join('; ') };
}

function objectsChange(base: Base, c: ObjectsComponent, o: ObservedObjects | undefined): Change {
  const all = c.objects.length;
  if (!o || (all > 0 && o.missing.length === all))
    return { ...base, action: 'create', reason: `${c.title}: not present` };
  const present = { objects: (base.after as { objects: string[] }).objects.filter((r) => !o.missing.includes(r)) };
  const reasons: string[] = [];
  if (o.missing.length > 0) reasons.push(`missing: ${o.missing.join(', ')}`);
  if (o.drift.length > 0) reasons.push(`drifted: ${o.drift.join('; ')}`);
  if (reasons.length === 0) return { ...base, action: 'no-op', before: present };
  return { ...base, action: 'update', before: present, reason: reasons.join('; ') };
}

function absentChange(layer: string, c: AbsentComponent, o: ObservedAbsent | undefined): Change | undefined {
  if (!o?.exists) return undefined;
  return { layer, address: c.address, action: 'delete', before: { exists: true }, reason: c.reason };
}

/**
 * The change one component needs, or none (an absent object that is indeed
 * absent). Observed state of another kind than declared counts as not found.
 */
export function diffComponent(layer: string, c: Component, o: ObservedComponent | undefined): Change | undefined {
  if (c.kind === 'absent') return absentChange(layer, c, o?.kind === 'absent' ? o : undefined);
  const base: Base = { layer, address: c.address, after: desiredState(c) };
  switch (c.kind) {
    case 'chart':
      return chartChange(base, c, o?.kind === 'chart' ? o : undefined);
    case 'manifest':
      return manifestChange(base, c, o?.kind === 'manifest' ? o : undefined);
    case 'objects':
      return objectsChange(base, c, o?.kind === 'objects' ? o : undefined);
  }
}

export interface DiffSetOptions {
  /** The set's name, used as the plan layer and in notes. */
  name: string;
  /** The target in words, for the note when it is not reachable: "the management cluster". */
  target: string;
}

export function diffComponentSet(
  o: DiffSetOptions,
  components: readonly Component[],
  observed: ComponentsObserved,
): LayerDiff {
  const notes: string[] = [];
  if (!observed.reachable) notes.push(`${o.name}: ${o.target} is not reachable yet; planned from desired state`);
  const changes: Change[] = [];
  for (const c of components) {
    const seen = observed.components[c.address];
    if (seen && 'unavailable' in seen && seen.unavailable.length > 0) {
      notes.push(`${o.name}: ${c.title}: not Available: ${seen.unavailable.join(', ')}`);
    }
    const change = diffComponent(o.name, c, seen);
    if (change) changes.push(change);
  }
  return { changes, notes };
}
