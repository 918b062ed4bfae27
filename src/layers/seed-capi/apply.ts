/** Executes seed-capi changes in install order; every step is idempotent, so a re-run resumes. */
import type { LayerContext } from '../../engine/types.js';
import type { Change } from '../../plan/plan.js';
import {
  desiredComponents,
  LEGACY_WEBHOOK,
  LEGACY_WEBHOOK_ADDRESS,
  type ChartSpec,
  type ManifestSpec,
} from './components.js';
import type { Session } from './session.js';
import { renderProvider } from './transforms.js';

const DEFAULT_ROLLOUT_MS = 10 * 60_000;

async function applyChart(s: Session, spec: ChartSpec, ctx: LayerContext, rolloutMs: number): Promise<void> {
  const src = s.toolbox.chart(spec.component);
  await s.helm.upgradeInstall({
    release: spec.release,
    namespace: spec.namespace,
    chart: { kind: 'repo', repo: src.repo, name: src.chart, version: spec.version },
    values: [spec.values],
    createNamespace: true,
    atomic: spec.atomic,
    wait: true,
    timeoutMs: spec.timeoutMs,
  });
  await s.kube.waitForDeploymentsAvailable(spec.controllers, { timeoutMs: rolloutMs, log: (m) => ctx.log.info(m) });
}

async function applyManifest(s: Session, spec: ManifestSpec, ctx: LayerContext, rolloutMs: number): Promise<void> {
  const objects = renderProvider(spec.component, spec.version, await s.toolbox.manifest(spec.component, spec.version));
  ctx.log.info(`${spec.title} ${spec.version}: server-side apply of ${objects.length} object(s)`);
  // As azimuth-ops (`kubectl apply --server-side --force-conflicts`): the provider owns its objects.
  await s.kube.apply(objects, { force: true, log: (m) => ctx.log.info(m) });
  await s.kube.waitForDeploymentsAvailable(spec.controllers, { timeoutMs: rolloutMs, log: (m) => ctx.log.info(m) });
}

export async function applySeedCapi(
  changes: readonly Change[],
  ctx: LayerContext,
  s: Session,
  rolloutMs = DEFAULT_ROLLOUT_MS,
): Promise<void> {
  const wanted = new Set(changes.filter((c) => c.action !== 'no-op').map((c) => c.address));
  for (const spec of desiredComponents(ctx.desired)) {
    if (!wanted.has(spec.address)) continue;
    await ctx.log.group(`seed-capi: ${spec.title} ${spec.version}`, async () => {
      if (spec.kind === 'chart') await applyChart(s, spec, ctx, rolloutMs);
      else await applyManifest(s, spec, ctx, rolloutMs);
    });
  }
  if (wanted.has(LEGACY_WEBHOOK_ADDRESS)) {
    if (await s.kube.delete(LEGACY_WEBHOOK)) ctx.log.info(`deleted ${LEGACY_WEBHOOK.kind} ${LEGACY_WEBHOOK.name}`);
  }
}
