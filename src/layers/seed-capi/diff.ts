/** seed-capi's plan: pure, from desired components and what observe found. */
import { createHash } from 'node:crypto';
import semver from 'semver';
import type { LayerDiff } from '../../engine/types.js';
import { diffRelease } from '../../helm/values-diff.js';
import type { Desired } from '../../model/desired.js';
import { canonicalJson, type Change } from '../../plan/plan.js';
import {
  desiredComponents,
  LEGACY_WEBHOOK_ADDRESS,
  type ChartSpec,
  type ComponentSpec,
  type ManifestSpec,
} from './components.js';
import type { ObservedChart, ObservedManifest, SeedCapiObserved } from './observe.js';

const LAYER = 'seed-capi';

/** Values are summarised by digest: plans show that they change, not what they hold. */
export function valuesDigest(values: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(values)).digest('hex').slice(0, 12);
}

function desiredState(spec: ComponentSpec): Record<string, unknown> {
  return spec.kind === 'chart'
    ? { chart: spec.release, version: spec.version, namespace: spec.namespace, values: valuesDigest(spec.values) }
    : { version: spec.version };
}

function versionWord(before: string, after: string): string {
  const a = semver.coerce(before);
  const b = semver.coerce(after);
  if (a && b && semver.lt(b, a)) return `downgrade ${before} -> ${after}`;
  return `upgrade ${before} -> ${after}`;
}

const sameVersion = (a: string | undefined, b: string): boolean => a?.replace(/^v/, '') === b.replace(/^v/, '');

function manifestChange(spec: ManifestSpec, o: ObservedManifest | undefined): Change {
  const base = { layer: LAYER, address: spec.address, after: desiredState(spec) };
  if (!o?.installed) return { ...base, action: 'create', reason: `${spec.title} is not installed` };
  const before = { version: o.version };
  const reasons: string[] = [];
  if (!sameVersion(o.version, spec.version)) reasons.push(versionWord(o.version ?? 'unknown', spec.version));
  if (!o.managed) reasons.push('installed outside capi-mgmt: adopt it (server-side apply takes over its fields)');
  if (o.missingControllers.length > 0) reasons.push(`controllers missing: ${o.missingControllers.join(', ')}`);
  if (o.drift.length > 0) reasons.push(`drifted: ${o.drift.join('; ')}`);
  if (reasons.length === 0) return { ...base, action: 'no-op', before };
  return { ...base, action: 'update', before, reason: reasons.join('; ') };
}

function chartChange(spec: ChartSpec, o: ObservedChart | undefined): Change {
  const base = { layer: LAYER, address: spec.address, after: desiredState(spec) };
  if (!o?.installed)
    return { ...base, action: 'create', reason: `release ${spec.namespace}/${spec.release} is not installed` };
  const deployedValues = o.values ?? {};
  const before = {
    chart: spec.release,
    version: o.version,
    namespace: spec.namespace,
    values: valuesDigest(deployedValues),
  };
  const d = diffRelease(
    { chartVersion: o.version ?? '', values: deployedValues, status: o.status },
    { chartVersion: spec.version, values: spec.values },
  );
  if (!d.changed) return { ...base, action: 'no-op', before };
  const reasons: string[] = [];
  if (d.chartVersion) reasons.push(versionWord(d.chartVersion.before, d.chartVersion.after));
  if (d.valuePaths.length > 0) reasons.push(`values differ at ${d.valuePaths.join(', ')}`);
  if (d.unhealthyStatus) reasons.push(`release status is ${d.unhealthyStatus}`);
  return { ...base, action: 'update', before, reason: reasons.join('; ') };
}

export function diffSeedCapi(desired: Desired, observed: SeedCapiObserved): LayerDiff {
  const notes: string[] = [];
  if (!observed.reachable)
    notes.push('seed-capi: the seed Kubernetes API is not reachable yet; planned from desired state');
  const changes: Change[] = desiredComponents(desired).map((spec) => {
    const o = observed.components[spec.address];
    if (o?.unavailable.length) notes.push(`seed-capi: ${spec.title}: not Available: ${o.unavailable.join(', ')}`);
    return spec.kind === 'chart'
      ? chartChange(spec, o?.kind === 'chart' ? o : undefined)
      : manifestChange(spec, o?.kind === 'manifest' ? o : undefined);
  });
  if (observed.legacyWebhook) {
    changes.push({
      layer: LAYER,
      address: LEGACY_WEBHOOK_ADDRESS,
      action: 'delete',
      before: { exists: true },
      reason: 'legacy CAPO webhook that nothing serves any more (azimuth-ops removes it too)',
    });
  }
  return { changes, notes };
}
