/**
 * Test-only layers with real state in a directory, standing in for the
 * cloud layers in action tests. They are handed to run() by the test entry
 * (action-entry.ts), never through production code.
 *
 *   CAPI_MGMT_TEST_STATE            state directory (required)
 *   CAPI_MGMT_TEST_WIDGET_SIZE      desired size of widget "a" (default 1)
 *   CAPI_MGMT_TEST_SEED_KUBECONFIG  file: the "seed" API once the seed exists (the lock's Lease goes there)
 *   CAPI_MGMT_TEST_MGMT_KUBECONFIG  file: the management kubeconfig handed on as the cluster outputs
 *   CAPI_MGMT_TEST_APPLY_GATE       file: widgets apply waits while it exists (to hold the lock)
 */
import fs from 'node:fs';
import path from 'node:path';
import { resolveCloud } from '../../src/openstack/connection.js';
import type { AnyLayer, Layer, LayerContext } from '../../src/engine/types.js';
import type { LayerFactory } from '../../src/layers/index.js';
import { clusterOutputs, type ClusterOutputs } from '../../src/layers/cluster/outputs.js';
import { seedK3sOutputs, type SeedK3sOutputs } from '../../src/layers/seed-k3s/outputs.js';
import type { Desired } from '../../src/model/desired.js';
import type { Change } from '../../src/plan/plan.js';
import { seedOutputs } from './seed-outputs.js';

const env = (k: string): string | undefined => process.env[k] || undefined;

function stateDir(): string {
  const d = env('CAPI_MGMT_TEST_STATE');
  if (!d) throw new Error('CAPI_MGMT_TEST_STATE is not set');
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** Stands in for seed-k3s: once the seed exists, its API is the lab's seed cluster. */
function haveSeed(ctx: LayerContext): void {
  const f = env('CAPI_MGMT_TEST_SEED_KUBECONFIG');
  if (f) ctx.publish(seedK3sOutputs, seedOutputs(fs.readFileSync(f, 'utf8')));
}

const seedLayer: Layer<{ exists: boolean }, SeedK3sOutputs> = {
  name: 'test-seed',
  outputs: seedK3sOutputs,
  async observe(ctx) {
    const exists = fs.existsSync(path.join(stateDir(), 'seed.json'));
    if (exists) haveSeed(ctx);
    return { exists };
  },
  diff(desired, observed) {
    const c: Change = {
      layer: 'test-seed',
      address: `seed/${desired.seedName}`,
      action: observed.exists ? 'no-op' : 'create',
      after: { name: desired.seedName },
    };
    return { changes: [c] };
  },
  async apply(_changes, _observed, ctx) {
    fs.writeFileSync(path.join(stateDir(), 'seed.json'), '{"ok":true}\n');
    haveSeed(ctx);
  },
};

type Widgets = Record<string, Record<string, unknown>>;

function desiredWidgets(desired: Desired): Widgets {
  const auth = resolveCloud(desired.config.openstack, desired.dir).auth;
  const secret = auth.type === 'password' ? auth.password : auth.secret;
  return {
    a: { size: Number(env('CAPI_MGMT_TEST_WIDGET_SIZE') ?? 1) },
    // A secret inside desired state: plans, comments and summaries must show it redacted.
    b: { size: 2, credentials: { secret } },
  };
}

const widgetsFile = (): string => path.join(stateDir(), 'widgets.json');

/** Stands in for the cluster layer: once the cluster exists, its kubeconfig is handed on (a secret). */
function haveCluster(ctx: LayerContext): void {
  const mgmt = env('CAPI_MGMT_TEST_MGMT_KUBECONFIG');
  if (!mgmt) return;
  const kubeconfig = fs.readFileSync(mgmt, 'utf8');
  ctx.redactor.addDocument(kubeconfig);
  ctx.publish(clusterOutputs, { kubeconfig });
}

const widgetsLayer: Layer<Widgets, ClusterOutputs> = {
  name: 'test-widgets',
  outputs: clusterOutputs,
  async observe(ctx) {
    if (!fs.existsSync(widgetsFile())) return {};
    haveCluster(ctx);
    return JSON.parse(fs.readFileSync(widgetsFile(), 'utf8')) as Widgets;
  },
  diff(desired, observed) {
    const want = desiredWidgets(desired);
    const changes: Change[] = [];
    for (const [k, v] of Object.entries(want)) {
      const have = observed[k];
      const same = have !== undefined && JSON.stringify(have) === JSON.stringify(v);
      changes.push({
        layer: 'test-widgets',
        address: `widget/${k}`,
        action: have === undefined ? 'create' : same ? 'no-op' : 'update',
        before: have,
        after: v,
        reason: have !== undefined && !same ? 'differs from the desired state' : undefined,
      });
    }
    for (const [k, v] of Object.entries(observed)) {
      if (!(k in want))
        changes.push({
          layer: 'test-widgets',
          address: `widget/${k}`,
          action: 'delete',
          before: v,
          reason: 'not in the desired state',
        });
    }
    return { changes };
  },
  async apply(changes, _observed, ctx) {
    const gate = env('CAPI_MGMT_TEST_APPLY_GATE');
    for (let i = 0; gate && fs.existsSync(gate) && i < 600; i++) await new Promise((r) => setTimeout(r, 200));
    const want = desiredWidgets(ctx.desired);
    // Deliberately log a secret: the logger must blank it.
    ctx.log.info(`configuring widgets with ${String((want.b!.credentials as { secret: string }).secret)}`);
    fs.writeFileSync(widgetsFile(), `${JSON.stringify(want, null, 2)}\n`);
    ctx.log.info(`applied ${changes.length} widget change(s)`);
    haveCluster(ctx);
  },
  async restore(backup, ctx) {
    fs.writeFileSync(path.join(stateDir(), 'restored'), backup);
    ctx.log.info(`restored backup ${backup}`);
  },
};

export const testLayers: LayerFactory = () => [seedLayer, widgetsLayer] as AnyLayer[];
