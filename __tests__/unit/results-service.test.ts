/**
 * The results-service stand-in against the real @actions/artifact and
 * @actions/cache clients: it serves what they do right and refuses, as the
 * real service does, a token it did not sign or that does not cover the run,
 * content whose hash or size differs from what the client reports, and a
 * blob URL that is not signed for the operation.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultArtifactClient } from '@actions/artifact';
import * as cache from '@actions/cache';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CACHE_READ, CACHE_WRITE } from '../helpers/runtime-token.js';
import { startResultsService, type ResultsStandIn } from '../helpers/results-service.js';

let r: ResultsStandIn;
let tmp: string;
const savedEnv = { ...process.env };

/** The clients read their settings from process.env, as on a runner. */
function runnerEnv(token: string, extra: Record<string, string> = {}): void {
  process.env = {
    ...savedEnv,
    ACTIONS_RESULTS_URL: r.url,
    ACTIONS_RUNTIME_TOKEN: token,
    ACTIONS_CACHE_SERVICE_V2: 'true',
    GITHUB_WORKSPACE: tmp,
    RUNNER_TEMP: path.join(tmp, 'runner-temp'),
    GITHUB_SERVER_URL: 'https://github.com',
    ...extra,
  };
}

const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

beforeAll(async () => {
  r = await startResultsService();
});
afterAll(async () => {
  await r.close();
});
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'results-standin-'));
  fs.mkdirSync(path.join(tmp, 'runner-temp'));
});
afterEach(() => {
  process.env = { ...savedEnv };
  r.blobs.tamper = undefined;
  fs.rmSync(tmp, { recursive: true, force: true });
  expect(r.takeUnexpected()).toEqual([]);
});

function writeFile(name: string, content: string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, content);
  return p;
}

const upload = (file: string) =>
  new DefaultArtifactClient().uploadArtifact(path.basename(file), [file], path.dirname(file), {
    retentionDays: 1,
    skipArchive: true,
  });

describe('artifact service', () => {
  it('stores an upload whose size and hash it checked, and serves it to a later job of the run', async () => {
    const content = 'age-encryption.org/v1\n-> X25519 stand-in\n'.repeat(50);
    runnerEnv(r.runtimeToken('run-a', 'job-1'));
    const { id } = await upload(writeFile('one.age', content));
    const art = r.artifacts.find((a) => a.id === id)!;
    expect(art).toMatchObject({ finalized: true, size: String(content.length), hash: sha256(content) });
    expect(art.data!.toString()).toBe(content);

    runnerEnv(r.runtimeToken('run-a', 'job-2'));
    const out = path.join(tmp, 'out');
    await new DefaultArtifactClient().downloadArtifact(id!, { path: out, expectedHash: sha256(content) });
    expect(fs.readFileSync(path.join(out, 'one.age'), 'utf8')).toBe(content);
  });

  it('refuses a token it did not sign, one with an edited scope, and an expired one', async () => {
    const file = writeFile('two.age', 'secret-free payload');
    const good = r.runtimeToken('run-b', 'job-1');
    const [h, p] = good.split('.');
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${p}.`;
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as { scp: string };
    const edited = Buffer.from(JSON.stringify({ ...claims, scp: claims.scp.replaceAll('run-b', 'run-x') })).toString(
      'base64url',
    );
    const forged = `${h}.${edited}.${good.split('.')[2]}`;
    for (const token of [unsigned, forged, r.runtimeToken('run-b', 'job-1', { expiresIn: -60 })]) {
      runnerEnv(token);
      await expect(upload(file)).rejects.toThrow(/401|Unauthorized/);
    }
    expect(r.takeUnexpected()).toEqual([
      expect.stringMatching(/^CreateArtifact: token rejected/),
      expect.stringMatching(/^CreateArtifact: token rejected/),
      expect.stringMatching(/^CreateArtifact: token rejected \(ERR_JWT_EXPIRED\)/),
    ]);
    expect(r.artifacts.some((a) => a.runBackendId !== 'run-a')).toBe(false);
  });

  it('refuses to finalize content that differs from what the client hashed', async () => {
    runnerEnv(r.runtimeToken('run-c', 'job-1'));
    r.blobs.tamper = (b) => Buffer.concat([b, Buffer.from('!')]);
    await expect(upload(writeFile('three.age', 'the real bytes'))).rejects.toThrow(/400|Bad Request/);
    expect(r.takeUnexpected()).toEqual([
      expect.stringMatching(/^ArtifactService\/FinalizeArtifact of three\.age: reported 14 B sha256:\w+, stored 15 B/),
    ]);
    expect(r.artifacts.find((a) => a.name === 'three.age')?.finalized).toBe(false);
  });

  it('keeps a job to its own run, and blob URLs to the operation they were signed for', async () => {
    const token = r.runtimeToken('run-d', 'job-1');
    const post = (body: unknown) =>
      fetch(`${r.url}twirp/github.actions.results.api.v1.ArtifactService/CreateArtifact`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const other = await post({ workflow_run_backend_id: 'run-a', workflow_job_run_backend_id: 'job-1', name: 'x' });
    expect(other.status).toBe(403);
    const own = await post({ workflow_run_backend_id: 'run-d', workflow_job_run_backend_id: 'job-1', name: 'x' });
    const uploadUrl = new URL(((await own.json()) as { signed_upload_url: string }).signed_upload_url);

    expect((await fetch(uploadUrl)).status).toBe(403); // signed for writing, not reading
    const tampered = new URL(uploadUrl);
    tampered.pathname = tampered.pathname.replace('/x', '/y');
    const put = (u: URL) => fetch(u, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body: 'data' });
    expect((await put(tampered)).status).toBe(403);
    expect((await put(uploadUrl)).status).toBe(201);
    expect(r.takeUnexpected()).toEqual([
      'ArtifactService/CreateArtifact for run run-a with a token for run-d',
      expect.stringMatching(/^blob GET .*permission cw does not allow GET$/),
      expect.stringMatching(/^blob PUT .*signature does not match$/),
    ]);
  });

  it('answers an unknown route with 404 and records it', async () => {
    const res = await fetch(`${r.url}twirp/github.actions.results.api.v1.ArtifactService/DeleteEverything`, {
      method: 'POST',
      headers: { authorization: `Bearer ${r.runtimeToken('run-e', 'job-1')}` },
      body: '{}',
    });
    expect(res.status).toBe(404);
    expect((await fetch(`${r.url}elsewhere`)).status).toBe(404);
    expect(r.takeUnexpected()).toEqual([
      'ArtifactService/DeleteEverything: no such method',
      'no route for GET /elsewhere',
    ]);
  });
});

describe('cache service (v2, as @actions/cache 6 speaks it)', () => {
  const tool = () => path.join(tmp, 'toolcache', 'thing');
  function makeTool(content: string): void {
    fs.mkdirSync(tool(), { recursive: true });
    fs.writeFileSync(path.join(tool(), 'bin'), content);
  }

  it('misses, saves, then restores the same paths on a fresh machine', async () => {
    runnerEnv(r.runtimeToken('run-f', 'job-1'));
    expect(cache.isFeatureAvailable()).toBe(true);
    expect(await cache.restoreCache([tool()], 'thing-1')).toBeUndefined();
    makeTool('v1 binary');
    const id = await cache.saveCache([tool()], 'thing-1');
    expect(id).toBeGreaterThan(0);
    const entry = r.cache.entries.find((e) => e.id === id)!;
    expect(entry).toMatchObject({ key: 'thing-1', scope: 'refs/heads/main', finalized: true });
    expect(entry.sizeBytes).toBe(r.cache.archive(entry)!.length);

    fs.rmSync(tool(), { recursive: true });
    runnerEnv(r.runtimeToken('run-g', 'job-1'));
    const before = r.calls.filter((c) => c === 'blob GET').length;
    expect(await cache.restoreCache([tool()], 'thing-1')).toBe('thing-1');
    expect(fs.readFileSync(path.join(tool(), 'bin'), 'utf8')).toBe('v1 binary');
    expect(r.calls.filter((c) => c === 'blob GET').length).toBe(before + 1);
    // The same key again is refused (the client logs it and carries on).
    expect(await cache.saveCache([tool()], 'thing-1')).toBe(-1);
  });

  it('lets a pull request read the base branch and write only its own ref; a read-only token writes nothing', async () => {
    runnerEnv(r.runtimeToken('run-h', 'job-1'));
    makeTool('main build');
    expect(await cache.saveCache([tool()], 'shared-1')).toBeGreaterThan(0);
    fs.rmSync(tool(), { recursive: true });

    const pr = [
      { scope: 'refs/pull/7/merge', permission: CACHE_READ | CACHE_WRITE },
      { scope: 'refs/heads/main', permission: CACHE_READ },
    ];
    runnerEnv(r.runtimeToken('run-i', 'job-1', { cacheScopes: pr }));
    expect(await cache.restoreCache([tool()], 'shared-2', ['shared-'])).toBe('shared-1');
    expect(await cache.saveCache([tool()], 'shared-2')).toBeGreaterThan(0);
    expect(r.cache.entries.find((e) => e.key === 'shared-2')?.scope).toBe('refs/pull/7/merge');

    // Another branch's run sees main's entry but not the pull request's.
    fs.rmSync(tool(), { recursive: true });
    runnerEnv(r.runtimeToken('run-j', 'job-1'));
    expect(await cache.restoreCache([tool()], 'shared-2', ['shared-'])).toBe('shared-1');

    runnerEnv(
      r.runtimeToken('run-k', 'job-1', { cacheScopes: [{ scope: 'refs/heads/main', permission: CACHE_READ }] }),
    );
    expect(await cache.saveCache([tool()], 'readonly-1')).toBe(-1);
    expect(r.cache.entries.some((e) => e.key === 'readonly-1')).toBe(false);
  });

  it('refuses to finalize an archive whose size differs from the one reported, and restores nothing', async () => {
    runnerEnv(r.runtimeToken('run-l', 'job-1'));
    makeTool('short');
    r.blobs.tamper = (b) => b.subarray(0, b.length - 1);
    expect(await cache.saveCache([tool()], 'cut-1')).toBe(-1);
    expect(r.takeUnexpected()).toEqual([
      expect.stringMatching(/^CacheService\/FinalizeCacheEntryUpload of cut-1: reported \d+ B/),
    ]);
    r.blobs.tamper = undefined;
    fs.rmSync(tool(), { recursive: true });
    expect(await cache.restoreCache([tool()], 'cut-1')).toBeUndefined();
  });
});
