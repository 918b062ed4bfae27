/**
 * Run the mirror in the foreground for the lab or a demo:
 *
 *   node --import tsx test/lab/mirror/main.ts [--port N] [--env-file .lab/env.d/mirror.sh]
 *
 * Uses $CAPI_LAB_HELM (from .lab/env.d/k8s.sh) to package charts. Prints
 * `CAPI_LAB_MIRROR_URL=<url>` once serving; stops on SIGINT/SIGTERM.
 */
import { rm, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { startMirror } from './server.js';

const { values } = parseArgs({ options: { port: { type: 'string' }, 'env-file': { type: 'string' } } });
const helm = process.env.CAPI_LAB_HELM;
if (!helm) {
  console.error('CAPI_LAB_HELM is not set: source .lab/env.d/k8s.sh first (test/lab/k8s/up.sh writes it)');
  process.exit(2);
}
const mirror = await startMirror({ helm, port: values.port ? Number(values.port) : undefined });
const envFile = values['env-file'];
if (envFile) await writeFile(envFile, `export CAPI_LAB_MIRROR_URL=${mirror.url}\n`);
console.log(`CAPI_LAB_MIRROR_URL=${mirror.url}`);
const stop = async (): Promise<void> => {
  await mirror.close();
  if (envFile) await rm(envFile, { force: true });
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
