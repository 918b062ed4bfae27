/**
 * The committed bundles start fast: `validate` runs from the main file
 * alone, and the heavy clients (the layers' OpenStack, Kubernetes, SSH and
 * download code, Octokit, the artifact client) sit in chunk files that a
 * command loads with import() when it needs them. This checks both sides:
 * what validate loads, and that a command that needs the layers finds
 * their chunks in dist/ and runs them.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..', '..');
const dist = path.join(root, 'dist');
const MAIN_MAX_BYTES = 5e6;

let tmp: string;
let keystone: http.Server;
let keystoneUrl: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dist-chunks-'));
  // Records every file the ESM loader loads (the main file and each chunk).
  fs.writeFileSync(
    path.join(tmp, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) {\n  if (url.startsWith('file:')) appendFileSync(process.env.LOADED_LOG, url + '\\n');\n  return next(url, context);\n}\n`,
  );
  fs.writeFileSync(
    path.join(tmp, 'register.mjs'),
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(path.join(tmp, 'hooks.mjs')).href)});\n`,
  );
  // A Keystone that refuses every login at once: plan gets as far as the
  // seed-infra layer's first request, then stops without retrying.
  keystone = http.createServer((req, res) => {
    req.resume();
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end('{"error":{"code":401,"message":"refused by the test"}}');
  });
  await new Promise<void>((resolve) => keystone.listen(0, '127.0.0.1', resolve));
  keystoneUrl = `http://127.0.0.1:${(keystone.address() as AddressInfo).port}/v3`;
  const env = path.join(tmp, 'ws', 'environments', 'chunks');
  fs.mkdirSync(env, { recursive: true });
  fs.writeFileSync(
    path.join(env, 'clouds.yaml'),
    `clouds:\n  chunks:\n    auth:\n      auth_url: "${keystoneUrl}"\n      application_credential_id: "chunks"\n      application_credential_secret: "chunks-secret"\n    auth_type: v3applicationcredential\n`,
  );
  fs.writeFileSync(
    path.join(env, 'environment.yaml'),
    'openstack:\n  cloud: chunks\n  cloudsYamlFile: clouds.yaml\nseed:\n  sshPublicKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk chunks\n',
  );
});

afterAll(async () => {
  await new Promise((resolve) => keystone.close(resolve));
  fs.rmSync(tmp, { recursive: true, force: true });
});

/**
 * Runs a bundle under the recording hook; returns its exit status, output
 * and the dist/ files it loaded. Asynchronous: the stand-in Keystone answers
 * from this process.
 */
async function runRecorded(argv: string[], env: NodeJS.ProcessEnv) {
  const log = path.join(tmp, `loaded-${Math.random().toString(36).slice(2)}.txt`);
  fs.writeFileSync(log, '');
  const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', path.join(tmp, 'register.mjs'), ...argv],
      { cwd: path.join(tmp, 'ws'), env: { PATH: process.env.PATH, HOME: tmp, LOADED_LOG: log, ...env } },
      (_error, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr }),
    );
  });
  const loaded = [
    ...new Set(
      fs
        .readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((u) => new URL(u).pathname),
    ),
  ]
    .filter((p) => p.startsWith(dist + path.sep))
    .map((p) => path.relative(dist, p));
  return { ...r, loaded };
}

function actionEnv(command: string): NodeJS.ProcessEnv {
  const files = Object.fromEntries(
    ['output', 'summary', 'state'].map((f) => {
      const p = path.join(tmp, `${command}-${f}`);
      fs.writeFileSync(p, '');
      return [f, p];
    }),
  );
  return {
    GITHUB_WORKSPACE: path.join(tmp, 'ws'),
    GITHUB_EVENT_NAME: 'workflow_dispatch',
    GITHUB_REPOSITORY: 'acme/platform',
    GITHUB_API_URL: 'http://127.0.0.1:9',
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_STATE: files.state,
    RUNNER_TEMP: tmp,
    INPUT_COMMAND: command,
    INPUT_ENVIRONMENT: 'chunks',
    INPUT_ENVIRONMENTS_DIR: 'environments',
    'INPUT_GITHUB-TOKEN': 'ghs_chunks',
  };
}

const cliArgs = (command: string): string[] => [path.join(dist, 'cli', 'index.js'), command, '--env', 'chunks'];
const isChunk = (f: string): boolean => /^(cli\/)?\d+\.index\.js$/.test(f);

describe('the committed bundles', () => {
  it('keep each main file at most 5 MB', () => {
    for (const main of ['index.js', 'cli/index.js']) {
      expect(fs.statSync(path.join(dist, main)).size, main).toBeLessThanOrEqual(MAIN_MAX_BYTES);
    }
  });

  it('validate from the main file alone, action and CLI', async () => {
    const action = await runRecorded([path.join(dist, 'index.js')], actionEnv('validate'));
    expect(action.status, action.stdout + action.stderr).toBe(0);
    expect(action.loaded).toEqual(['index.js']);
    const cli = await runRecorded(cliArgs('validate'), {});
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.loaded).toEqual(['cli/index.js']);
  });

  it('load the layers from their chunks for plan, action and CLI', async () => {
    const cli = await runRecorded(cliArgs('plan'), {});
    // The seed-infra layer ran: it reached Keystone, which refused the login.
    expect(cli.stderr).toMatch(/plan failed .*identity: not authorised/);
    expect(cli.status).toBe(1);
    expect(cli.loaded.filter(isChunk).length).toBeGreaterThan(0);
    expect(cli.loaded.every((f) => f.startsWith('cli/'))).toBe(true);

    const action = await runRecorded([path.join(dist, 'index.js')], actionEnv('plan'));
    expect(action.stdout).toMatch(/identity: not authorised/);
    expect(action.status).toBe(1);
    expect(action.loaded.filter(isChunk).length).toBeGreaterThan(0);
    expect(action.loaded.some((f) => f.startsWith('cli/'))).toBe(false);
  });
});
