/**
 * `npm run bench -- faults`: seed-infra under injected faults, the lab
 * test's seeds run 30 times (CAPI_FAULT_SEEDS to change). Prints a line per
 * seed, then the figures: faults per kind, seeds converged, duplicates,
 * leaks, requests that bypassed the proxy, and time. Exits 1 when any seed
 * did not converge cleanly.
 */
import { FAULT_KINDS, type FaultKind } from '../__tests__/helpers/fault-proxy.js';
import { FaultSeeds, type SeedResult } from '../__tests__/helpers/fault-seeds.js';
import { PART_NAMES, probePart, START_HINT } from '../__tests__/helpers/lab-parts.js';

const SEEDS = Number(process.env.CAPI_FAULT_SEEDS ?? 30);

const openstack = await probePart('openstack');
if (!openstack.ok) {
  console.error(`bench: the lab's ${PART_NAMES.openstack} cannot be reached: ${openstack.detail}; ${START_HINT}`);
  process.exit(1);
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const clean = (r: SeedResult): boolean =>
  !r.error && r.converged && r.duplicates.length === 0 && r.leaks.length === 0 && r.direct.length === 0;

const seeds = await FaultSeeds.start();
const results: SeedResult[] = [];
const t0 = Date.now();
try {
  for (let n = 1; n <= SEEDS; n++) {
    const r = await seeds.runSeed(n);
    results.push(r);
    console.log(
      `seed ${String(n).padStart(2)}: ${clean(r) ? 'ok  ' : 'FAIL'} ${String(r.faults).padStart(3)} faults ` +
        `(${r.postAfter} after a forwarded POST), ${r.proxied} requests proxied, ${r.direct.length} direct, ` +
        `apply runs ${r.applyRuns}, destroy runs ${r.destroyRuns}, ${seconds(r.ms)}` +
        (r.error ? ` - ${r.error}` : '') +
        (r.duplicates.length ? ` duplicates: ${r.duplicates.join(', ')}` : '') +
        (r.leaks.length ? ` leaks: ${r.leaks.join(', ')}` : ''),
    );
    if (!clean(r) || process.env.BENCH_VERBOSE) for (const f of r.failures) console.log(`         ${f}`);
  }
} finally {
  await seeds.close();
}

const sum = (f: (r: SeedResult) => number): number => results.reduce((a, r) => a + f(r), 0);
const times = results.map((r) => r.ms).sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)] ?? 0;
console.log(`\nfault injection over ${results.length} seeds (seed-infra apply + destroy on the lab)\n`);
console.log('fault kind       count');
for (const k of FAULT_KINDS)
  console.log(`${k.padEnd(16)} ${String(sum((r) => r.kinds[k as FaultKind] ?? 0)).padStart(5)}`);
console.log(`${'total'.padEnd(16)} ${String(sum((r) => r.faults)).padStart(5)}`);
console.log(
  `${'after a POST'.padEnd(16)} ${String(sum((r) => r.postAfter)).padStart(5)} (a create that took effect, answered with a failure)`,
);
console.log('');
console.log(`converged:        ${results.filter((r) => !r.error && r.converged).length}/${results.length}`);
console.log(
  `duplicates:       ${sum((r) => r.duplicates.length)} (seeds with any: ${results.filter((r) => r.duplicates.length).length})`,
);
console.log(
  `leaks:            ${sum((r) => r.leaks.length)} (seeds with any: ${results.filter((r) => r.leaks.length).length})`,
);
console.log(`requests:         ${sum((r) => r.proxied)} through the proxy, ${sum((r) => r.direct.length)} direct`);
console.log(
  `runs needed:      apply ${sum((r) => r.applyRuns)}, destroy ${sum((r) => r.destroyRuns)} (1 each when no run gave up)`,
);
console.log(
  `time:             ${seconds(Date.now() - t0)} in all; per seed median ${seconds(median)}, max ${seconds(times.at(-1) ?? 0)}`,
);
process.exitCode = results.every(clean) ? 0 : 1;
