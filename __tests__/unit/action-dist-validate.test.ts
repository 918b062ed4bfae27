/**
 * The committed bundle, run the way the runner runs it: inputs and file
 * commands through environment variables.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..', '..');
let tmp: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dist-validate-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function runAction(inputs: Record<string, string>, workspace = root) {
  const files = { output: 'output', summary: 'summary', state: 'state' };
  for (const f of Object.values(files)) fs.writeFileSync(path.join(tmp, f), '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: tmp,
    GITHUB_WORKSPACE: workspace,
    GITHUB_OUTPUT: path.join(tmp, files.output),
    GITHUB_STEP_SUMMARY: path.join(tmp, files.summary),
    GITHUB_STATE: path.join(tmp, files.state),
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  const r = spawnSync(process.execPath, [path.join(root, 'dist', 'index.js')], {
    cwd: workspace,
    env,
    encoding: 'utf8',
  });
  const outputs: Record<string, string> = {};
  const text = fs.readFileSync(path.join(tmp, files.output), 'utf8');
  for (const m of text.matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n?\2$/gm)) outputs[m[1]!] = m[3]!;
  return { ...r, outputs, summary: fs.readFileSync(path.join(tmp, files.summary), 'utf8') };
}

describe('node dist/index.js', () => {
  it('validates the example environment, writes outputs and a summary', () => {
    const r = runAction({ command: 'validate', environment: 'example' });
    expect(r.status).toBe(0);
    expect(r.outputs).toMatchObject({ changes: 'false', 'failure-reason': '' });
    expect(r.summary).toContain('## capi-mgmt validate: example');
    expect(r.summary).toContain('The environment is valid');
  });

  it('fails the step on an invalid environment and shows the positioned errors', () => {
    const ws = path.join(root, '__tests__', 'fixtures', 'config', 'invalid', 'bad-cidr-seed-network');
    expect(fs.existsSync(ws)).toBe(true);
    const expected = fs.readFileSync(path.join(ws, 'expected.txt'), 'utf8').trim().split('\n');
    const r = runAction({ command: 'validate', environment: 'main', 'environments-dir': 'envs' }, ws);
    expect(r.status).toBe(1);
    expect(r.outputs['failure-reason']).toBe('invalid-config');
    for (const line of expected) {
      expect(r.stdout).toContain(line);
      expect(r.summary).toContain(line);
    }
    // One annotation per problem, at its file, line and column.
    const first = expected[0]!.match(/^([^:]+):(\d+):(\d+): /)!;
    expect(r.stdout).toContain(`::error file=${first[1]},line=${first[2]},col=${first[3]}::`);
  });
});
