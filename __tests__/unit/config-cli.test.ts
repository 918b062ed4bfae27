/**
 * The terminal face on configuration only: `validate` and usage errors,
 * through `main()` with fake streams (no process, no network).
 */
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT, main } from '../../src/cli/main.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ENVIRONMENTS = path.resolve(HERE, '../../environments');
const INVALID = path.resolve(HERE, '../fixtures/config/invalid');

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main({ argv, env: {}, stdout, stderr, stdinIsTty: false });
  return { code, out: stdout.text, err: stderr.text };
}

describe('capi-mgmt validate', () => {
  it('accepts the example environment', async () => {
    const r = await run(['validate', '--env', 'example', '--environments-dir', ENVIRONMENTS]);
    expect(r.err).not.toMatch(/invalid|error/i);
    expect(r.code).toBe(EXIT.ok);
  });

  it('prints JSON with --json', async () => {
    const r = await run(['validate', '--env', 'example', '--environments-dir', ENVIRONMENTS, '--json']);
    expect(r.code).toBe(EXIT.ok);
    expect(JSON.parse(r.out)).toEqual({ valid: true, environment: 'example' });
  });

  it('prints every positioned error of an invalid environment to stderr and exits 1', async () => {
    const caseDir = path.join(INVALID, 'multiple-errors-sorted');
    const r = await run(['validate', '--env', 'main', '--environments-dir', path.join(caseDir, 'envs')]);
    expect(r.code).toBe(EXIT.failed);
    expect(r.out).toBe('');
    const file = path.relative(process.cwd(), path.join(caseDir, 'envs', 'main', 'env.yaml'));
    expect(r.err).toContain(`${file}:2:9: versions.capi: expected a version such as v1.2.3, found "1.14.0"`);
    expect(r.err).toContain(`${file}:13:3: seed.falvor: unknown key; did you mean "flavor"?`);
    expect(r.err).toContain('capi-mgmt: environment main is invalid (7 problem(s))');
  });

  it('reports an environment that does not exist', async () => {
    const r = await run(['validate', '--env', 'nope', '--environments-dir', ENVIRONMENTS]);
    expect(r.code).toBe(EXIT.failed);
    expect(r.err).toMatch(/no environment "nope" in .*\(found: .*example/);
  });
});

describe('capi-mgmt usage errors', () => {
  it('rejects an unknown command with 64', async () => {
    const r = await run(['frobnicate', '--env', 'example', '--environments-dir', ENVIRONMENTS]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain('unknown command "frobnicate"');
  });

  it('requires --env', async () => {
    const r = await run(['validate', '--environments-dir', ENVIRONMENTS]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain('--env');
  });

  it('refuses to apply without --yes when nobody can answer', async () => {
    const r = await run(['apply', '--env', 'example', '--environments-dir', ENVIRONMENTS]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain('pass --yes');
  });
});
