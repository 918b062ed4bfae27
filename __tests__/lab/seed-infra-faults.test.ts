/**
 * Fault injection: seed-infra through a proxy that fails a seeded share of
 * requests (5xx, resets, hangs; before and AFTER the real service acted).
 * Every seed must converge, with exactly one of each resource (no duplicate
 * from a repeated create) and nothing left after destroy, and must show
 * that faults were injected (at least one after a forwarded POST) and that
 * every request of the tool went through the proxy.
 * `npm run bench -- faults` runs the same seeds 30 times and prints figures.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_KINDS, type FaultKind } from '../helpers/fault-proxy.js';
import { FaultSeeds, type SeedResult } from '../helpers/fault-seeds.js';

const SEEDS = Number(process.env.CAPI_FAULT_SEEDS ?? 8);

describe('seed-infra under injected faults', () => {
  let seeds: FaultSeeds;
  const results: SeedResult[] = [];

  beforeAll(async () => {
    seeds = await FaultSeeds.start();
  });

  afterAll(async () => {
    await seeds?.close();
    const lines = results.map(
      (r) =>
        `seed ${r.seed}: ${r.faults} faults (${Object.entries(r.kinds)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}; ${r.postAfter} after a forwarded POST), ${r.proxied} requests proxied, ` +
        `apply runs ${r.applyRuns}, destroy runs ${r.destroyRuns}, ${(r.ms / 1000).toFixed(1)} s`,
    );
    if (lines.length) process.stderr.write(`fault injection:\n${lines.join('\n')}\n`);
  });

  for (let seedNo = 1; seedNo <= SEEDS; seedNo++) {
    it(`seed ${seedNo}: faults injected through the proxy; converges with no duplicates; destroys without leaks`, async () => {
      const r = await seeds.runSeed(seedNo);
      results.push(r);
      expect(r.error, r.failures.join('\n')).toBeUndefined();

      // The faults happened, of known kinds, including a failure after a create took effect.
      expect(r.faults).toBeGreaterThan(0);
      expect(Object.keys(r.kinds).every((k) => FAULT_KINDS.includes(k as FaultKind))).toBe(true);
      expect(r.postAfter).toBeGreaterThanOrEqual(1);

      // Every request went through the proxy: the catalog the client used points at it, and nothing went direct.
      expect(r.sent).toBeGreaterThan(0);
      expect(r.direct).toEqual([]);
      expect(r.proxied).toBeGreaterThanOrEqual(r.sent);
      expect(r.endpoints).toHaveLength(4);
      for (const e of r.endpoints) expect(e.startsWith(seeds.proxyBase), e).toBe(true);

      // And still: converged, exactly one of each, nothing left after destroy.
      expect(r.duplicates).toEqual([]);
      expect(r.converged, r.failures.join('\n')).toBe(true);
      expect(r.leaks).toEqual([]);
    });
  }

  it('injected every kind of fault over the seeds', () => {
    const seen = new Set(results.flatMap((r) => Object.keys(r.kinds)));
    expect([...seen].sort()).toEqual([...FAULT_KINDS].sort());
  });
});
