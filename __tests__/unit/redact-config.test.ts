/**
 * Secrets from configuration: registered as the text written, masked in
 * every form, kept out of every message of a run, and counted in the plan
 * hash without being shown.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadEnvironment } from '../../src/config/load.js';
import { parseCloud } from '../../src/openstack/cloud-config.js';
import { buildPlan, type Change } from '../../src/plan/plan.js';
import { runCommand } from '../../src/session/session.js';
import { downloadText } from '../../src/tools/download.js';
import type { Layer } from '../../src/engine/types.js';
import { REDACTED } from '../../src/util/redact.js';
import { MemoryLogger } from '../helpers/logger.js';

const PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk test';
const CLOUDS = [
  'clouds:',
  '  lab:',
  '    auth:',
  '      auth_url: http://127.0.0.1:9/v3',
  '      username: admin',
  '      password: 012345678',
  '      project_id: 0123456789',
  '      user_domain_name: Default',
  '',
].join('\n');

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redact-config-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** An environment `env` in a fresh directory: clouds.yaml plus environment.yaml with `extra` lines. */
function writeEnv(extra: string[] = [], clouds = CLOUDS): string {
  const envDir = path.join(dir, 'env');
  fs.mkdirSync(envDir, { recursive: true });
  fs.writeFileSync(path.join(envDir, 'clouds.yaml'), clouds);
  fs.writeFileSync(
    path.join(envDir, 'environment.yaml'),
    [
      'openstack:',
      '  cloud: lab',
      '  cloudsYamlFile: clouds.yaml',
      'seed:',
      `  sshPublicKey: ${PUBLIC_KEY}`,
      ...extra,
      '',
    ].join('\n'),
  );
  return dir;
}

const load = (extra: string[] = [], env: Record<string, string> = {}, clouds = CLOUDS) =>
  loadEnvironment({ name: 'env', environmentsDir: writeEnv(extra, clouds), env });

describe('secrets are registered as the text written', () => {
  it('sends a numeric clouds.yaml password as written, leading zero included', () => {
    const cloud = parseCloud(CLOUDS, 'lab');
    expect(cloud.auth.type === 'password' && cloud.auth.password).toBe('012345678');
    expect(cloud.auth.type === 'password' && cloud.auth.projectId).toBe('0123456789');
  });

  it('masks a numeric clouds.yaml password', () => {
    const r = load().redactor;
    expect(r.redact('login with 012345678')).toBe(`login with ${REDACTED}`);
  });

  it('reads a numeric secret in the environment files as a string and masks it', () => {
    const loaded = load([
      'backup:',
      '  s3Url: https://s3.example',
      '  bucket: backups',
      '  accessKeyId: 0077',
      '  secretAccessKey: 0123e4',
    ]);
    expect(loaded.desired.config.backup?.accessKeyId).toBe('0077');
    expect(loaded.desired.config.backup?.secretAccessKey).toBe('0123e4');
    expect(loaded.redactor.redact('key 0077 secret 0123e4')).toBe(`key ${REDACTED} secret ${REDACTED}`);
  });

  it('masks short secret values', () => {
    const loaded = load(
      [
        'backup:',
        '  s3Url: https://s3.example',
        '  bucket: backups',
        '  accessKeyId: ${env:K}',
        '  secretAccessKey: "x9"',
      ],
      { K: 'ak1' },
    );
    expect(loaded.redactor.redact('ak1/x9')).toBe(`${REDACTED}/${REDACTED}`);
  });

  it('treats the credentials of mirror and S3 URLs as secrets', () => {
    const loaded = load(
      [
        'mirrors:',
        '  binaries: https://mirror-user:m1rr0r-pass@mirror.example/bin',
        'backup:',
        '  s3Url: ${env:S3_URL}',
        '  bucket: backups',
        '  accessKeyId: ak',
        '  secretAccessKey: sk',
      ],
      { S3_URL: 'https://s3user:s3-pass-42@s3.example:9000' },
    );
    const r = loaded.redactor;
    expect(r.redact('m1rr0r-pass s3-pass-42 mirror-user:m1rr0r-pass')).toBe(`${REDACTED} ${REDACTED} ${REDACTED}`);
    // The URLs themselves stay readable, without their credentials.
    expect(r.redact(loaded.desired.config.mirrors.binaries!)).toBe(`https://${REDACTED}@mirror.example/bin`);
  });
});

describe('the plan hash and secrets', () => {
  const change: Change = { layer: 'platform', address: 'secret/velero', action: 'create', after: { key: '' } };
  const hashWith = (secretAccessKey: string): string => {
    const loaded = load([
      'backup:',
      '  s3Url: https://s3.example',
      '  bucket: backups',
      '  accessKeyId: ak',
      `  secretAccessKey: ${secretAccessKey}`,
    ]);
    const after = { key: secretAccessKey };
    return buildPlan({
      environment: 'env',
      layers: ['platform'],
      changes: [{ ...change, after }],
      redactor: loaded.redactor,
    }).hash;
  };

  it('changes when only a secret changes, and is stable for the same secrets', () => {
    const a = hashWith('rotating-secret-1');
    expect(hashWith('rotating-secret-1')).toBe(a);
    expect(hashWith('rotating-secret-2')).not.toBe(a);
  });

  it('does not change for secrets the run adds itself (keys, tokens, kubeconfigs)', () => {
    const loaded = load();
    const plan = () =>
      buildPlan({ environment: 'env', layers: ['platform'], changes: [change], redactor: loaded.redactor });
    const before = plan().hash;
    loaded.redactor.add('a-token-the-seed-gave-us');
    expect(plan().hash).toBe(before);
  });

  it('never shows the secret: the plan is the same but for its hash', () => {
    const loaded = load([
      'backup:',
      '  s3Url: https://s3.example',
      '  bucket: backups',
      '  accessKeyId: ak',
      '  secretAccessKey: sk-123',
    ]);
    const plan = buildPlan({
      environment: 'env',
      layers: ['platform'],
      changes: [{ ...change, after: { key: 'sk-123' } }],
      redactor: loaded.redactor,
    });
    expect(JSON.stringify(plan)).not.toContain('sk-123');
    expect(plan.hash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('every message of a run is redacted', () => {
  const SECRET = 'run-secret-value-42';
  const layer = (fail: 'observe' | 'close'): Layer<null> => ({
    name: 'seed-infra',
    async observe(ctx) {
      ctx.onCleanup(() => {
        if (fail === 'close') throw new Error(`closing tunnel with ${SECRET}`, { cause: new Error(SECRET) });
      });
      if (fail === 'observe') {
        throw new Error('observe failed', { cause: new Error(`library said: bad password ${SECRET}`) });
      }
      return null;
    },
    diff: () => ({ changes: [] }),
    apply: async () => {},
  });
  const run = (fail: 'observe' | 'close', log: MemoryLogger) =>
    runCommand({
      command: 'plan',
      environment: 'env',
      environmentsDir: writeEnv([
        'backup:',
        '  s3Url: https://s3.example',
        '  bucket: backups',
        '  accessKeyId: ak',
        `  secretAccessKey: ${SECRET}`,
      ]),
      env: {},
      log,
      dirs: { temp: os.tmpdir(), toolCache: { kind: 'local', dir: os.tmpdir() } },
      layers: () => [layer(fail)],
    });

  it('redacts errors thrown while closing, whatever logger the face passed', async () => {
    const log = new MemoryLogger();
    const outcome = await run('close', log);
    expect(outcome.ok).toBe(true);
    expect(log.lines.join('\n')).toContain('closing tunnel');
    expect(log.lines.join('\n')).not.toContain(SECRET);
  });

  it('redacts the cause chain of a failure', async () => {
    const log = new MemoryLogger();
    const outcome = await run('observe', log);
    if (outcome.ok || outcome.failureReason === 'invalid-config') throw new Error('expected a failed run');
    expect(outcome.failureReason).toBe('plan-failed');
    const cause = outcome.error.cause as Error;
    expect(cause.message).toBe(`library said: bad password ${REDACTED}`);
    expect(outcome.error.stack ?? '').not.toContain(SECRET);
  });
});

describe('downloads from a mirror with credentials', () => {
  let server: http.Server;
  let port = 0;
  const seen: Array<string | undefined> = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      if (req.url === '/ok') res.end('content');
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends the credentials as basic auth, not in the URL', async () => {
    expect(await downloadText(`http://mirror:p%40ss@127.0.0.1:${port}/ok`)).toBe('content');
    expect(seen.at(-1)).toBe(`Basic ${Buffer.from('mirror:p@ss').toString('base64')}`);
  });

  it('never quotes the credentials in an error', async () => {
    const err = await downloadText(`http://mirror:p%40ss@127.0.0.1:${port}/missing`, { retries: 0 }).catch(
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(`GET http://127.0.0.1:${port}/missing: HTTP 404`);
  });

  it('never quotes the credentials when the connection fails', async () => {
    const err = await downloadText('http://mirror:p%40ss@127.0.0.1:9/x', { retries: 0 }).catch(
      (e: unknown) => e as Error,
    );
    expect((err as Error).message).toMatch(/^GET http:\/\/127\.0\.0\.1:9\/x: /);
    expect((err as Error).message).not.toContain('p%40ss');
  });
});
