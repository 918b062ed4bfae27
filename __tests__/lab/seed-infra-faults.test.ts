/**
 * Fault injection: seed-infra through a proxy that fails a seeded share of
 * requests (5xx, resets, hangs; before and AFTER the real service acted).
 * Every seeded run must converge, with exactly one of each resource (no
 * duplicate from a repeated create) and nothing left after destroy.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify, parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChanges } from '../../src/plan/plan.js';
import { RestOpenStackClient } from '../../src/openstack/client.js';
import { parseCloud } from '../../src/openstack/cloud-config.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import {
  inventory,
  LAB_CLOUDS,
  labClient,
  labEnvironment,
  labUp,
  NOTHING,
  ONE_SEED,
  seedEngine,
  uniqueName,
} from '../helpers/seed-infra-lab.js';

const up = await labUp();
const SEEDS = Number(process.env.CAPI_FAULT_SEEDS ?? 8);
const RATE = Number(process.env.CAPI_FAULT_RATE ?? 0.12);
/** Creates fail more often: a POST answered with a failure after it took effect is what breeds duplicates. */
const POST_RATE = Number(process.env.CAPI_FAULT_POST_RATE ?? 0.4);
/** Runs of apply (or destroy) allowed per seed: a run may fail outright when faults pile up; the next must pick up. */
const MAX_RUNS = 8;

describe.skipIf(!up)('seed-infra under injected faults', () => {
  let proxy: FaultProxy;
  let proxiedClouds: string;
  const admin = up ? labClient('lab-admin') : undefined!;
  const demo = up ? labClient('lab') : undefined!;
  const report: string[] = [];

  beforeAll(async () => {
    proxy = await FaultProxy.start({ seed: 1, rate: 0 });
    // The same clouds.yaml with the auth URL through the proxy; the catalog follows.
    const doc = parse(fs.readFileSync(LAB_CLOUDS, 'utf8')) as {
      clouds: Record<string, { auth: { auth_url: string } }>;
    };
    doc.clouds.lab!.auth.auth_url = proxy.url(doc.clouds.lab!.auth.auth_url);
    proxiedClouds = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'capi-faults-')), 'clouds.yaml');
    fs.writeFileSync(proxiedClouds, stringify(doc), { mode: 0o600 });
  });

  afterAll(async () => {
    await proxy?.close();
    if (report.length) process.stderr.write(`fault injection:\n${report.join('\n')}\n`);
  });

  const clientFor = () =>
    new RestOpenStackClient(parseCloud(fs.readFileSync(proxiedClouds, 'utf8'), 'lab'), {
      timeoutMs: 2500,
      // Few attempts on purpose: some runs give up mid-way, and the next run must pick up from there.
      retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 },
    });

  /** Run `op` until it succeeds and the plan says `done`; each run is a fresh process-like start (new client). */
  async function untilDone(op: 'apply' | 'destroy', loaded: ReturnType<typeof labEnvironment>): Promise<number> {
    for (let run = 1; run <= MAX_RUNS; run++) {
      try {
        const { engine } = seedEngine(loaded, { client: clientFor() });
        await (op === 'apply' ? engine.apply() : engine.destroy());
        return run;
      } catch (e) {
        report.push(`  ${op} run ${run} failed: ${(e as Error).message.slice(0, 160)}`);
      }
    }
    throw new Error(`${op} did not succeed in ${MAX_RUNS} runs`);
  }

  for (let seedNo = 1; seedNo <= SEEDS; seedNo++) {
    it(`seed ${seedNo}: converges with no duplicates and destroys without leaks`, async () => {
      const start = Date.now();
      const loaded = labEnvironment(uniqueName(`fi${seedNo}`), {}, proxiedClouds);
      const { tag } = loaded.desired;
      const seed = loaded.desired.seedName;
      try {
        proxy.configure({ seed: seedNo * 7919, rate: RATE, postRate: POST_RATE });
        const before = proxy.faults.length;
        const applyRuns = await untilDone('apply', loaded);

        // Check through a fault-free path: exactly one of each, and nothing left to do.
        proxy.configure({ rate: 0, postRate: 0 });
        expect(await inventory(admin, demo, tag, seed)).toMatchObject(ONE_SEED);
        expect(hasChanges(await seedEngine(loaded, { client: clientFor() }).engine.plan())).toBe(false);

        proxy.configure({ seed: seedNo * 104729, rate: RATE, postRate: POST_RATE });
        const destroyRuns = await untilDone('destroy', loaded);
        proxy.configure({ rate: 0, postRate: 0 });
        expect(await inventory(admin, demo, tag, seed)).toEqual(NOTHING);
        const injected = proxy.faults.slice(before);
        const kinds: Record<string, number> = {};
        for (const f of injected) kinds[f.kind] = (kinds[f.kind] ?? 0) + 1;
        const posts = injected.filter((f) => f.method === 'POST' && f.kind.endsWith('after')).length;
        report.push(
          `seed ${seedNo}: ${injected.length} faults (${Object.entries(kinds)
            .map(([k, v]) => `${k} ${v}`)
            .join(
              ', ',
            )}; ${posts} after a forwarded POST), apply runs ${applyRuns}, destroy runs ${destroyRuns}, ${((Date.now() - start) / 1000).toFixed(1)} s`,
        );
      } finally {
        proxy.configure({ rate: 0, postRate: 0 });
        await seedEngine(labEnvironment(loaded.desired.name)).engine.destroy();
      }
    });
  }
});
