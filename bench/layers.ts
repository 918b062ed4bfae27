/**
 * `npm run bench -- layers`: every layer of the product on the lab (seed-infra
 * on the lab OpenStack, seed-k3s over SSH on a seed host sandbox, seed-capi
 * on the K3s stand-in it starts), in this process, after start-up. A cold
 * apply brings an environment like environments/lab up; then no-op plans,
 * each on a new engine with new layers (a new login, a new SSH connection
 * and tunnel: what a run does after its start-up), timed per layer and with
 * their HTTP requests counted by host (every undici request: the OpenStack
 * services and the Kubernetes API through the tunnel); then a destroy.
 * BENCH_PLANS sets how many plans (default 3).
 */
import diagnostics from 'node:diagnostics_channel';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadEnvironment } from '../src/config/load.js';
import { Engine } from '../src/engine/engine.js';
import type { Logger } from '../src/engine/types.js';
import { defaultLayers } from '../src/layers/index.js';
import { hasChanges } from '../src/plan/plan.js';
import { attachAnyVolume, labSeedHost, writeLabEnvironment } from '../__tests__/helpers/e2e-lab.js';
import { labCloudsPath } from '../__tests__/helpers/lab-parts.js';
import { Sandbox } from '../__tests__/lab/ssh-sandbox.js';

const PLANS = Number(process.env.BENCH_PLANS ?? 3);
const verbose = !!process.env.BENCH_VERBOSE;
const t0 = Date.now();
const s2 = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** Every HTTP request made through undici (Node's fetch included), by origin. */
const requests = new Map<string, number>();
diagnostics.channel('undici:request:create').subscribe((m) => {
  const r = (m as { request: { origin?: string | URL } }).request;
  const origin = String(r.origin ?? '?');
  requests.set(origin, (requests.get(origin) ?? 0) + 1);
});

/** Per-layer wall time of the phase groups (`plan seed-infra`, ...). */
let phases: Array<[string, number]> = [];
const log: Logger = {
  info: (m) => verbose && console.error(`${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} ${m}`),
  warn: (m) => console.error(`warning: ${m}`),
  debug: () => {},
  group: async (name, fn) => {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      phases.push([name, performance.now() - t]);
    }
  },
};

const seedHost = labSeedHost();
const sandbox = Sandbox.create('bench');
attachAnyVolume(sandbox);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'capi-bench-layers-'));
const name = `bench-${Date.now().toString(36).slice(-6)}`;
writeLabEnvironment({
  environmentsDir: path.join(tmp, 'environments'),
  name,
  sandbox,
  seedHost,
  openstack: { cloud: 'lab', cloudsYamlFile: labCloudsPath() },
});
const loaded = loadEnvironment({ name, environmentsDir: path.join(tmp, 'environments'), env: {} });
const dirs = { temp: tmp, toolCache: { kind: 'local' as const, dir: path.join(tmp, 'tools') } };

async function withEngine<T>(fn: (e: Engine) => Promise<T>): Promise<T> {
  const e = new Engine({
    desired: loaded.desired,
    layers: await defaultLayers(loaded.desired),
    log,
    redactor: loaded.redactor,
    secrets: { sshPrivateKey: sandbox.privateKey },
    dirs,
  });
  try {
    return await fn(e);
  } finally {
    await e.close();
  }
}

interface Sample {
  what: string;
  ms: number;
  phases: Array<[string, number]>;
  requests: Map<string, number>;
}
const samples: Sample[] = [];

async function measure<T>(what: string, fn: () => Promise<T>): Promise<T> {
  phases = [];
  requests.clear();
  const t = performance.now();
  const out = await fn();
  samples.push({ what, ms: performance.now() - t, phases, requests: new Map(requests) });
  return out;
}

let applied = false;
try {
  applied = true;
  await measure('cold apply, every layer', () => withEngine((e) => e.apply()));
  for (let i = 1; i <= PLANS; i++) {
    const plan = await measure(`no-op plan #${i}`, () => withEngine((e) => e.plan()));
    if (hasChanges(plan)) {
      const real = plan.changes.filter((c) => c.action !== 'no-op').map((c) => `${c.action} ${c.address}`);
      throw new Error(`the plan after apply is not empty: ${real.join(', ')}`);
    }
  }
} finally {
  try {
    if (applied) await measure('destroy', () => withEngine((e) => e.destroy()));
  } finally {
    sandbox.remove();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
console.log(`every layer on the lab, in-process after start-up (environment ${name})\n`);
for (const s of samples) {
  const reqs = [...s.requests].map(([o, n]) => `${o.replace(/^https?:\/\//, '')} ${n}`).join(', ');
  console.log(`${s.what}: ${s2(s.ms)}, ${total(s.requests)} HTTP requests (${reqs})`);
  for (const [p, ms] of s.phases) console.log(`    ${p.padEnd(22)} ${s2(ms)}`);
}
const plans = samples.filter((s) => s.what.startsWith('no-op plan'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const infra = median(plans.map((s) => s.phases.find(([p]) => p === 'plan seed-infra')?.[1] ?? NaN));
console.log(
  `\nno-op plan, median of ${plans.length}: all layers ${s2(median(plans.map((s) => s.ms)))} (goal < 3 s), seed-infra ${s2(infra)} (goal < 0.5 s)`,
);
