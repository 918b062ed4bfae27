/**
 * The committed bundle must be what the source builds to: GitHub runs
 * dist/, not src/. Rebuilds into a temp dir and compares byte for byte.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..', '..');

function files(dir: string, base = dir): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? files(path.join(dir, e.name), base) : [path.relative(base, path.join(dir, e.name))],
    )
    .sort();
}

describe('dist/', () => {
  it('matches a fresh build of the source (run `npm run package` if this fails)', { timeout: 600_000 }, () => {
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
  });

  it('declares node24 with main and post on the bundle', () => {
    const yml = fs.readFileSync(path.join(root, 'action.yml'), 'utf8');
    expect(yml).toMatch(/using: node24/);
    expect(yml).toMatch(/main: dist\/index\.js/);
    expect(yml).toMatch(/post: dist\/index\.js/);
  });
});
