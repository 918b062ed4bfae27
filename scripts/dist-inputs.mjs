// What dist/ is built from, as one digest: every file under src/, the lock
// file, the build script and the TypeScript settings. `npm run package`
// records it beside the bundles (dist/inputs.sha256), with a digest of the
// bundles themselves, so a quick test can tell a stale or hand-edited dist/
// without rebuilding it; the full rebuild comparison runs in `npm test`.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

function walk(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

function digest(files, base) {
  const h = createHash('sha256');
  for (const f of files.map((f) => path.relative(base, f)).sort()) {
    h.update(`${f}\0`);
    h.update(fs.readFileSync(path.join(base, f)));
    h.update('\0');
  }
  return h.digest('hex');
}

export const RECORD = 'inputs.sha256';

export function inputsDigest() {
  const files = [
    ...walk(path.join(root, 'src')),
    ...['package-lock.json', 'scripts/package.mjs', 'tsconfig.json'].map((f) => path.join(root, f)),
  ];
  return digest(files, root);
}

export function bundleDigest(distDir) {
  return digest(
    walk(distDir).filter((f) => path.basename(f) !== RECORD),
    distDir,
  );
}
