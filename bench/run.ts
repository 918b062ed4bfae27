/**
 * `npm run bench [-- MODE ...]`: benchmarks. Each mode is a module that
 * runs when it is imported, so a mode loads only what it measures.
 *
 *   startup     cold start of the action and the CLI for `validate` against `node -e 0`,
 *               and the bundle sizes (no lab); BENCH_DIST=dist,build compares the
 *               committed bundles with a fresh build of the working tree
 *   seed-infra  seed-infra against the lab OpenStack
 *   faults      seed-infra under injected faults, 30 seeds (CAPI_FAULT_SEEDS): figures per kind
 *
 * Without a mode: startup, then seed-infra (faults takes many minutes: ask for it).
 */
const MODES: Record<string, () => Promise<unknown>> = {
  startup: () => import('./startup.js'),
  'seed-infra': () => import('./seed-infra.js'),
  faults: () => import('./faults.js'),
};

const asked = process.argv.slice(2);
const unknown = asked.filter((m) => !(m in MODES));
if (unknown.length > 0) {
  console.error(`bench: unknown mode ${unknown.join(', ')}; expected one of: ${Object.keys(MODES).join(', ')}`);
  process.exit(64);
}
for (const mode of asked.length > 0 ? asked : ['startup', 'seed-infra']) {
  console.log(`\n== bench ${mode}`);
  await MODES[mode]!();
}
