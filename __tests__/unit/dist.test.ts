/**
 * The committed bundle must be what the source builds to: GitHub runs
 * dist/, not src/. A quick check compares the digests `npm run package`
 * recorded (of its inputs and of the bundles) with today's; `npm test`
 * (CAPI_DIST_REBUILD=1) also rebuilds into a temp dir and compares byte
 * for byte, which takes minutes on two cores.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleDigest, inputsDigest, RECORD } from '../../scripts/dist-inputs.mjs';

const root = path.resolve(import.meta.dirname, '..', '..');

function files(dir: string, base = dir): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? files(path.join(dir, e.name), base) : [path.relative(base, path.join(dir, e.name))],
    )
    .sort();
}

const rebuild = process.env.CAPI_DIST_REBUILD === '1';

describe('dist/', () => {
  it('was built from the source as it is now, and not edited since (run `npm run package` if this fails)', () => {
    const record = fs.readFileSync(path.join(root, 'dist', RECORD), 'utf8');
    const recorded = Object.fromEntries(
      record
        .trim()
        .split('\n')
        .map((l) => l.split(' ')),
    );
    expect(recorded.inputs, 'src/, package-lock.json or the build script changed since dist/ was built').toBe(
      inputsDigest(),
    );
    expect(recorded.bundle, 'dist/ was changed by hand').toBe(bundleDigest(path.join(root, 'dist')));
  });

  it.runIf(rebuild)(
    'matches a fresh build of the source (run `npm run package` if this fails)',
    { timeout: 600_000 },
    () => {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dist-check-'));
      try {
        execFileSync(process.execPath, [path.join(root, 'scripts', 'package.mjs'), out], { cwd: root, stdio: 'pipe' });
        const committed = files(path.join(root, 'dist'));
        expect(files(out)).toEqual(committed);
        const stale = committed.filter(
          (f) => !fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(root, 'dist', f))),
        );
        expect(stale, `stale files in dist/: ${stale.join(', ')}; run npm run package`).toEqual([]);
      } finally {
        fs.rmSync(out, { recursive: true, force: true });
      }
    },
  );

  it('declares node24 with main and post on the bundle', () => {
    const yml = fs.readFileSync(path.join(root, 'action.yml'), 'utf8');
    expect(yml).toMatch(/using: node24/);
    expect(yml).toMatch(/main: dist\/index\.js/);
    expect(yml).toMatch(/post: dist\/index\.js/);
  });
});
