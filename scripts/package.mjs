// Rebuilds the committed bundles: dist/index.js (the action, main and post)
// and dist/cli/index.js (the CLI), each with the chunk files its dynamic
// imports load. `node scripts/package.mjs OUTDIR` builds elsewhere, which
// the dist check uses to compare with what is committed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { minify } from 'terser';
import { eagerFactories } from './eager-factories.mjs';
import { bundleDigest, inputsDigest, RECORD } from './dist-inputs.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.resolve(process.argv[2] ?? path.join(root, 'dist'));
const ncc = path.join(root, 'node_modules', '.bin', 'ncc');
const entries = [
  ['src/action/index.ts', out],
  ['src/cli/index.ts', path.join(out, 'cli')],
];

fs.rmSync(out, { recursive: true, force: true });
for (const [entry, dir] of entries) {
  execFileSync(ncc, ['build', path.join(root, entry), '-o', dir, '--minify', '--quiet', '--no-source-map-register'], {
    cwd: root,
    stdio: 'inherit',
  });
}
// ncc copies ssh2's optional native add-ons (built for this machine's Node);
// ssh2 falls back to pure JavaScript without them, and the bundle stays
// the same on every machine.
const prune = (dir) => {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      prune(p);
      if (fs.readdirSync(p).length === 0) fs.rmdirSync(p);
    } else if (/\.(node|exe)$/.test(e.name)) fs.rmSync(p);
  }
};
prune(out);
// Code loaded with import() (the layers, Octokit, the artifact client...)
// lands in chunk files beside each index.js; ncc minifies only index.js, so
// the chunks get the same treatment here (its options: mangle, no compress).
// Then every file's module factories are made to compile in one parse
// (scripts/eager-factories.mjs).
for (const dir of [out, path.join(out, 'cli')]) {
  for (const name of fs.readdirSync(dir).filter((n) => /^(\d+\.)?index\.js$/.test(n))) {
    const file = path.join(dir, name);
    let code = fs.readFileSync(file, 'utf8');
    if (name !== 'index.js') {
      code = (
        await minify(code, { module: true, compress: false, mangle: { keep_classnames: true, keep_fnames: true } })
      ).code;
    }
    fs.writeFileSync(file, eagerFactories(code));
  }
}
// The CLI runs as a command: keep its shebang line and make it executable.
const cli = path.join(out, 'cli', 'index.js');
const text = fs.readFileSync(cli, 'utf8');
if (!text.startsWith('#!')) fs.writeFileSync(cli, `#!/usr/bin/env node\n${text}`);
fs.chmodSync(cli, 0o755);
// The digests the quick dist test checks (scripts/dist-inputs.mjs).
fs.writeFileSync(path.join(out, RECORD), `inputs ${inputsDigest()}\nbundle ${bundleDigest(out)}\n`);
