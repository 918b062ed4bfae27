/**
 * `npm run bench -- seed-infra`: seed-infra against the lab. First the lab's
 * critical-path lower bound (lower-bound.ts: the same resources by raw API
 * calls, the longest chain of dependent steps), then the tool: a cold
 * apply, a no-op plan on a warm client (token and microversion reused) and
 * on a new one (fresh login, as every run has), and a destroy. Prints wall
 * times and requests per service, and the apply and destroy against their
 * bounds, all measured in the same run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { loadEnvironment } from '../src/config/load.js';
import { Engine } from '../src/engine/engine.js';
import type { Logger } from '../src/engine/types.js';
import { seedInfraLayer } from '../src/layers/seed-infra/index.js';
import { RestOpenStackClient } from '../src/openstack/client.js';
import { resolveCloud } from '../src/openstack/connection.js';
import { hasChanges } from '../src/plan/plan.js';
import { measureLowerBound, type Bound } from './lower-bound.js';

const REPO = path.resolve(import.meta.dirname, '..');
const CLOUDS = path.join(REPO, '.lab/clouds.yaml');
const KEY = path.join(REPO, '.lab/seed_key.pub');
const verbose = !!process.env.BENCH_VERBOSE;

if (!fs.existsSync(CLOUDS)) {
  console.error('bench: no .lab/clouds.yaml; start the lab first (npm run lab:up)');
  process.exit(1);
}

const t0 = Date.now();
const log: Logger = {
  info: (m) => verbose && console.error(`${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} ${m}`),
  warn: (m) => console.error(`warning: ${m}`),
  debug: (m) => verbose && console.error(`${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} debug: ${m}`),
  group: (_n, fn) => fn(),
};

const name = `bench-${Date.now().toString(36).slice(-6)}`;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'capi-bench-'));
fs.mkdirSync(path.join(root, name));
fs.writeFileSync(
  path.join(root, name, 'environment.yaml'),
  stringify({
    openstack: { cloud: 'lab', cloudsYamlFile: CLOUDS },
    seed: {
      image: { name: 'fake-image' },
      externalNetwork: { name: 'public' },
      dataVolume: { size: 1 },
      sshPublicKey: fs.existsSync(KEY)
        ? fs.readFileSync(KEY, 'utf8').trim()
        : 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk bench',
    },
  }),
);
const loaded = loadEnvironment({ name, environmentsDir: root, env: {} });

interface Sample {
  what: string;
  ms: number;
  requests: Record<string, number>;
}
const samples: Sample[] = [];

function engineWith(client: RestOpenStackClient): Engine {
  // The product's own waits and parallelism: nothing tuned for the bench.
  const layer = seedInfraLayer({ client });
  return new Engine({ desired: loaded.desired, layers: [layer], log, redactor: loaded.redactor });
}

async function measure<T>(what: string, client: RestOpenStackClient, fn: () => Promise<T>): Promise<T> {
  client.resetStats();
  const start = performance.now();
  const out = await fn();
  samples.push({ what, ms: performance.now() - start, requests: client.stats() });
  return out;
}

const newClient = () =>
  new RestOpenStackClient(resolveCloud(loaded.desired.config.openstack, loaded.desired.dir), {
    log: (m) => log.debug(m),
  });
const publicKey = fs.existsSync(KEY)
  ? fs.readFileSync(KEY, 'utf8').trim()
  : 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk bench';
const bound: Bound = await measureLowerBound({
  cloud: resolveCloud(loaded.desired.config.openstack, loaded.desired.dir),
  name: `${name}-bound`,
  image: 'fake-image',
  externalNetwork: 'public',
  volumeSize: 1,
  publicKey,
  cidr: '192.168.211.0/24',
});

const warm = newClient();
try {
  await measure('cold apply (empty cloud)', warm, () => engineWith(warm).apply());
  const REPEAT = 3;
  for (let i = 1; i <= REPEAT; i++) {
    const plan = await measure(`no-op plan, warm client #${i}`, warm, () => engineWith(warm).plan());
    if (hasChanges(plan)) throw new Error('the plan after apply is not empty');
  }
  for (let i = 1; i <= REPEAT; i++) {
    const fresh = newClient();
    await measure(`no-op plan, new client #${i}`, fresh, () => engineWith(fresh).plan());
  }
} finally {
  const c = newClient();
  await measure('destroy', c, () => engineWith(c).destroy());
}

const services = [...new Set(samples.flatMap((s) => Object.keys(s.requests)))].sort();
const pad = (s: string, n: number) => s.padEnd(n);
const rows = samples.map((s) => [
  s.what,
  `${(s.ms / 1000).toFixed(2)} s`,
  ...services.map((k) => String(s.requests[k] ?? 0)),
  String(Object.values(s.requests).reduce((a, b) => a + b, 0)),
]);
const head = ['phase', 'wall', ...services, 'total'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
console.log(`seed-infra bench on the lab (environment ${name})\n`);
console.log(head.map((h, i) => pad(h, widths[i]!)).join('  '));
for (const r of rows) console.log(r.map((c, i) => pad(c, widths[i]!)).join('  '));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const warmMs = median(samples.filter((s) => s.what.includes('warm')).map((s) => s.ms));
const coldMs = median(samples.filter((s) => s.what.includes('new client')).map((s) => s.ms));
const warmReq = samples.find((s) => s.what.includes('warm'))!.requests;
const coldReq = samples.find((s) => s.what.includes('new client'))!.requests;
const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
console.log(
  `\nno-op plan: warm client (token + microversion reused) ${(warmMs / 1000).toFixed(2)} s, ${sum(warmReq)} requests; new client ${(coldMs / 1000).toFixed(2)} s, ${sum(coldReq)} requests; ratio new/warm ${(coldMs / warmMs).toFixed(2)}x`,
);
const apply = samples[0]!;
const destroy = samples.at(-1)!;
const s2 = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
console.log(`cold apply ${(apply.ms / 1000).toFixed(1)} s is ${(apply.ms / warmMs).toFixed(0)}x a warm no-op plan`);
console.log(
  `\nlower bound (raw API, ${bound.requests} requests, each step alone; the longest chain of dependent steps):`,
);
for (const [what, steps] of [
  ['create', bound.create],
  ['delete', bound.delete],
] as const)
  console.log(`  ${what}: ${steps.map((x) => `${x.id} ${(x.ms / 1000).toFixed(2)}`).join(', ')}`);
console.log(`  create chain ${bound.createPath.join(' > ')}: ${s2(bound.createMs)}`);
console.log(`  delete chain ${bound.deletePath.join(' > ')}: ${s2(bound.deleteMs)}`);
const busy = (b: { service: string; ms: number }) => `${b.service} alone ${s2(b.ms)}`;
console.log(
  `  busiest service: create ${busy(bound.createBusiest)}, delete ${busy(bound.deleteBusiest)} (its steps one after another)`,
);
const ratio = (ms: number, b: number) => `${(ms / b).toFixed(2)}x`;
const createBound = Math.max(bound.createMs, bound.createBusiest.ms);
const deleteBound = Math.max(bound.deleteMs, bound.deleteBusiest.ms);
console.log(
  `\ncold apply ${s2(apply.ms)}: ${ratio(apply.ms, bound.createMs)} the critical path (goal <= 1.3x), ${ratio(apply.ms, createBound)} the larger of it and the busiest service`,
);
console.log(
  `destroy    ${s2(destroy.ms)}: ${ratio(destroy.ms, bound.deleteMs)} the critical path (goal <= 1.3x), ${ratio(destroy.ms, deleteBound)} the larger of it and the busiest service`,
);
console.log(`no-op plan, new client ${s2(coldMs)} (goal < 0.5 s), ${sum(coldReq)} requests`);
