/**
 * `npm run bench [-- MODE ...]`: benchmarks. Each mode is a module that
 * runs when it is imported, so a mode loads only what it measures.
 *
 *   startup     cold start of the action and the CLI for `validate` against `node -e 0`,
 *               and the bundle sizes (no lab); BENCH_DIST=dist,build compares the
 *               committed bundles with a fresh build of the working tree
 *   seed-infra  seed-infra against the lab OpenStack: cold apply and destroy side by side with
 *               the lab's critical-path lower bound (raw API calls along the dependency chain),
 *               no-op plans with their request counts
 *   layers      every layer on the lab (OpenStack, seed host, K3s stand-in): no-op plans per
 *               layer with their HTTP request counts, after a cold apply; then destroy
 *   faults      seed-infra under injected faults, 30 seeds (CAPI_FAULT_SEEDS): figures per kind
 *
 * Without a mode: startup, seed-infra, layers (faults takes many minutes: ask for it).
 */
const MODES: Record<string, () => Promise<unknown>> = {
  startup: () => import('./startup.js'),
  'seed-infra': () => import('./seed-infra.js'),
  layers: () => import('./layers.js'),
  faults: () => import('./faults.js'),
};

const asked = process.argv.slice(2);
const unknown = asked.filter((m) => !(m in MODES));
if (unknown.length > 0) {
  console.error(`bench: unknown mode ${unknown.join(', ')}; expected one of: ${Object.keys(MODES).join(', ')}`);
  process.exit(64);
}
for (const mode of asked.length > 0 ? asked : ['startup', 'seed-infra', 'layers']) {
  console.log(`\n== bench ${mode}`);
  await MODES[mode]!();
}
