/**
 * Applying a component set: a pure step list (declared order, only what
 * the plan changes, each install followed by its readiness waits), then
 * its execution. Every step is idempotent, so a re-run resumes.
 */
import type { Logger } from '../engine/types.js';
import type { Change } from '../plan/plan.js';
import { manifestObjects } from './observe.js';
import type { Target } from './target.js';
import type {
  AbsentComponent,
  ChartComponent,
  Component,
  DeploymentRef,
  ManifestComponent,
  ObjectsComponent,
} from './types.js';

type Step =
  | { kind: 'install-chart'; component: ChartComponent }
  | { kind: 'apply-manifest'; component: ManifestComponent }
  | { kind: 'apply-objects'; component: ObjectsComponent }
  | { kind: 'delete'; component: AbsentComponent }
  | { kind: 'wait-crds'; names: string[] }
  | { kind: 'wait-deployments'; refs: DeploymentRef[] };

export interface ApplyItem {
  address: string;
  /** Log group the steps run in, e.g. "platform: cert-manager v1.21.1"; none for a lone delete. */
  group?: string;
  steps: Step[];
}

function waits(c: Exclude<Component, AbsentComponent>): Step[] {
  const out: Step[] = [];
  // CRDs first: a later component (or the controllers' own start) may need them.
  if (c.crds?.length) out.push({ kind: 'wait-crds', names: [...c.crds] });
  if (c.controllers.length) out.push({ kind: 'wait-deployments', refs: [...c.controllers] });
  return out;
}

/**
 * What apply does for these changes, in the set's declared order. A change
 * for an address the set does not declare means the plan came from another
 * version of the set: refuse rather than guess.
 */
export function applySteps(setName: string, components: readonly Component[], changes: readonly Change[]): ApplyItem[] {
  const wanted = new Set(changes.filter((c) => c.action !== 'no-op').map((c) => c.address));
  const known = new Set(components.map((c) => c.address));
  const unknown = [...wanted].filter((a) => !known.has(a));
  if (unknown.length > 0) {
    throw new Error(
      `${setName}: the plan has changes for ${unknown.join(', ')}, which this component set does not declare`,
    );
  }
  const items: ApplyItem[] = [];
  for (const c of components) {
    if (!wanted.has(c.address)) continue;
    switch (c.kind) {
      case 'absent':
        items.push({ address: c.address, steps: [{ kind: 'delete', component: c }] });
        break;
      case 'chart':
        items.push({
          address: c.address,
          group: `${setName}: ${c.title} ${c.version}`,
          steps: [{ kind: 'install-chart', component: c }, ...waits(c)],
        });
        break;
      case 'manifest':
        items.push({
          address: c.address,
          group: `${setName}: ${c.title} ${c.version}`,
          steps: [{ kind: 'apply-manifest', component: c }, ...waits(c)],
        });
        break;
      case 'objects':
        items.push({
          address: c.address,
          group: `${setName}: ${c.title}`,
          steps: [{ kind: 'apply-objects', component: c }, ...waits(c)],
        });
        break;
    }
  }
  return items;
}

export interface ApplyOptions {
  /** How long each CRD and controller may take to become ready (default 10 min, as azimuth-ops). */
  readyTimeoutMs?: number;
  /** How often long operations print a progress line (default 15 s). */
  progressMs?: number;
}

const DEFAULT_READY_MS = 10 * 60_000;

/** Run `fn`, printing "still <doing> (N s)" while it lasts: helm's own waits are silent. */
async function withProgress<T>(doing: string, every: number, log: (m: string) => void, fn: () => Promise<T>) {
  const start = Date.now();
  const timer = setInterval(() => log(`still ${doing} (${Math.round((Date.now() - start) / 1000)} s)`), every);
  timer.unref();
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

async function runStep(t: Target, step: Step, log: Logger, o: ApplyOptions): Promise<void> {
  const info = (m: string): void => log.info(m);
  const wait = { timeoutMs: o.readyTimeoutMs ?? DEFAULT_READY_MS, progressMs: o.progressMs, log: info };
  switch (step.kind) {
    case 'install-chart': {
      const c = step.component;
      const src = t.sources.chart(c.source);
      info(`helm upgrade --install ${c.namespace}/${c.release} (${src.chart} ${c.version})`);
      await withProgress(`installing release ${c.namespace}/${c.release}`, o.progressMs ?? 15_000, info, () =>
        t.helm.upgradeInstall({
          release: c.release,
          namespace: c.namespace,
          chart: { kind: 'repo', repo: src.repo, name: src.chart, version: c.version },
          values: [c.values],
          createNamespace: true,
          atomic: c.atomic,
          wait: true,
          timeoutMs: c.timeoutMs,
        }),
      );
      return;
    }
    case 'apply-manifest': {
      const c = step.component;
      const objects = await manifestObjects(t, c);
      info(`${c.title} ${c.version}: server-side apply of ${objects.length} object(s)`);
      // As azimuth-ops (`kubectl apply --server-side --force-conflicts`): the component owns its objects.
      await t.kube.apply(objects, { force: true, crdTimeoutMs: wait.timeoutMs, log: info });
      return;
    }
    case 'apply-objects': {
      const c = step.component;
      info(`${c.title}: server-side apply of ${c.objects.length} object(s)`);
      await t.kube.apply(c.objects, { force: true, crdTimeoutMs: wait.timeoutMs, log: info });
      return;
    }
    case 'delete': {
      const { ref } = step.component;
      if (await t.kube.delete(ref)) info(`deleted ${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`);
      return;
    }
    case 'wait-crds':
      await t.kube.waitForCrdsEstablished(step.names, wait);
      return;
    case 'wait-deployments':
      await t.kube.waitForDeploymentsAvailable(step.refs, wait);
      return;
  }
}

export async function applyComponents(
  setName: string,
  components: readonly Component[],
  changes: readonly Change[],
  target: Target,
  log: Logger,
  o: ApplyOptions = {},
): Promise<void> {
  for (const item of applySteps(setName, components, changes)) {
    const run = async (): Promise<void> => {
      for (const step of item.steps) await runStep(target, step, log, o);
    };
    if (item.group) await log.group(item.group, run);
    else await run();
  }
}
