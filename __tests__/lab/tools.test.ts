import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChecksumMismatchError, createToolbox } from '../../src/tools/index.js';
import { toolCacheFromEnv } from '../../src/tools/cache.js';
import { labHelm } from '../../test/lab/mirror/lab.js';
import { startMirror, type Mirror } from '../../test/lab/mirror/server.js';
import { startResultsService } from '../helpers/results-service.js';

let mirror: Mirror;
let tmp: string;
const logs: string[] = [];
const log = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(`warning: ${m}`) };
const K3S = 'v1.34.8+k3s1';

beforeAll(async () => {
  mirror = await startMirror({ helm: labHelm() });
  tmp = mkdtempSync(join(tmpdir(), 'capi-mgmt-tools-'));
});
afterAll(async () => {
  await mirror?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const mirrors = () => ({ binaries: mirror.url, manifests: mirror.url, charts: mirror.url });

describe('toolbox against the lab mirror', () => {
  it('downloads, verifies and caches helm; the second call makes no request', async () => {
    const box = createToolbox({ mirrors: mirrors(), cache: { kind: 'local', dir: join(tmp, 'local') }, log });
    const helm = await box.helm(mirror.helmVersion);
    expect(execFileSync(helm, ['version', '--short']).toString()).toContain(mirror.helmVersion);
    const before = mirror.requests.length;
    expect(await box.helm(mirror.helmVersion)).toBe(helm);
    expect(mirror.requests.length).toBe(before);
    expect(existsSync(join(tmp, 'local', '.staging')) ? readdirSync(join(tmp, 'local', '.staging')) : []).toEqual([]);
  });

  it('fetches K3s checked against sha256sum-amd64.txt, and provider manifests', async () => {
    const box = createToolbox({ mirrors: mirrors(), cache: { kind: 'local', dir: join(tmp, 'local') }, log });
    const k3s = await box.k3s(K3S);
    expect(execFileSync(k3s, ['--version']).toString()).toContain(K3S);
    expect(await box.manifest('capo', 'v0.14.7')).toContain('capi-openstack-controller:v0.14.7');
    expect(box.chart('certManager')).toEqual({ repo: mirror.url, chart: 'cert-manager' });
  });

  it('refuses a download whose checksum does not match and caches nothing', async () => {
    const root = join(tmp, 'tampered');
    const base = `/k3s-io/k3s/releases/download/${K3S}`;
    mirror.override(`${base}/k3s`, '#!/bin/sh\necho evil\n');
    try {
      const box = createToolbox({ mirrors: mirrors(), cache: { kind: 'local', dir: root }, log });
      await expect(box.k3s(K3S)).rejects.toBeInstanceOf(ChecksumMismatchError);
      await expect(box.k3s(K3S)).rejects.toThrow(/checksum mismatch .*k3s.*nothing was cached/);
      expect(readdirSync(root).filter((n) => n !== '.staging')).toEqual([]);
      expect(readdirSync(join(root, '.staging'))).toEqual([]);
    } finally {
      mirror.reset();
    }
    // Once the mirror is right again, the same cache fills normally.
    const box = createToolbox({ mirrors: mirrors(), cache: { kind: 'local', dir: root }, log });
    expect(existsSync(await box.k3s(K3S))).toBe(true);
  });

  it('names the URL when a version does not exist', async () => {
    const box = createToolbox({ mirrors: mirrors(), cache: { kind: 'local', dir: join(tmp, 'local') }, log });
    await expect(box.manifest('capi', 'v0.0.1')).rejects.toThrow(/cluster-api\/releases\/download\/v0.0.1\/.*HTTP 404/);
  });

  it('uses the runner tool cache when RUNNER_TOOL_CACHE is set', async () => {
    const env = { RUNNER_TOOL_CACHE: join(tmp, 'toolcache'), RUNNER_TEMP: join(tmp, 'runner-temp') };
    const saved = { ...process.env };
    Object.assign(process.env, env); // @actions/tool-cache reads process.env
    try {
      const box = createToolbox({ mirrors: mirrors(), log, cache: toolCacheFromEnv(env), tempDir: env.RUNNER_TEMP });
      expect(box.cache.kind).toBe('runner');
      const k3s = await box.k3s(K3S);
      // Kept apart from upstream downloads: the tool name carries a digest of the mirror URL.
      expect(k3s).toMatch(
        new RegExp(`^${env.RUNNER_TOOL_CACHE}/capi-mgmt-k3s-m[0-9a-f]{8}/1\\.34\\.8-k3s1/amd64/k3s$`),
      );
      expect(existsSync(`${dirname(k3s)}.complete`)).toBe(true);
      const before = mirror.requests.length;
      expect(
        await createToolbox({ mirrors: mirrors(), log, cache: toolCacheFromEnv(env), tempDir: env.RUNNER_TEMP }).k3s(
          K3S,
        ),
      ).toBe(k3s);
      expect(mirror.requests.length).toBe(before);
    } finally {
      process.env = saved;
    }
  });

  it('saves tools to the Actions cache service and restores them on a fresh runner without downloading', async () => {
    const results = await startResultsService();
    const toolCache = join(tmp, 'hosted-toolcache');
    const workspace = join(tmp, 'cache-ws');
    mkdirSync(workspace);
    // What a runner with the cache service sets; the same tool-cache path on every machine, as on hosted runners.
    const runner = (run: string) => {
      const temp = join(tmp, `runner-temp-${run}`);
      mkdirSync(temp);
      return {
        RUNNER_TOOL_CACHE: toolCache,
        RUNNER_TEMP: temp,
        GITHUB_WORKSPACE: workspace,
        GITHUB_SERVER_URL: 'https://github.com',
        ACTIONS_CACHE_SERVICE_V2: 'True',
        ACTIONS_RESULTS_URL: results.url,
        ACTIONS_RUNTIME_TOKEN: results.runtimeToken(`backend-${run}`, 'job'),
      };
    };
    const saved = { ...process.env };
    try {
      // First run: nothing cached anywhere; downloads from the mirror, then saves.
      let env = runner('1');
      Object.assign(process.env, env); // @actions/tool-cache and @actions/cache read process.env
      let requests = mirror.requests.length;
      const k3s = await createToolbox({
        mirrors: mirrors(),
        log,
        cache: toolCacheFromEnv(env),
        tempDir: env.RUNNER_TEMP,
      }).k3s(K3S);
      expect(mirror.requests.slice(requests).map((r) => r.replace(/^.*\//, ''))).toEqual([
        'k3s',
        'sha256sum-amd64.txt',
      ]);
      expect(results.calls).toEqual([
        'GetCacheEntryDownloadURL', // miss
        'CreateCacheEntry',
        'blob PUT',
        'FinalizeCacheEntryUpload',
      ]);
      expect(results.cache.entries).toMatchObject([
        { key: expect.stringMatching(/^capi-mgmt-capi-mgmt-k3s-m[0-9a-f]{8}-1\.34\.8-k3s1-amd64$/), finalized: true },
      ]);

      // A fresh runner: an empty tool cache; the binary comes from the cache service, not the mirror.
      rmSync(toolCache, { recursive: true, force: true });
      process.env = { ...saved };
      env = runner('2');
      Object.assign(process.env, env);
      requests = mirror.requests.length;
      const calls = results.calls.length;
      logs.length = 0;
      expect(
        await createToolbox({ mirrors: mirrors(), log, cache: toolCacheFromEnv(env), tempDir: env.RUNNER_TEMP }).k3s(
          K3S,
        ),
      ).toBe(k3s);
      expect(mirror.requests.length).toBe(requests);
      expect(results.calls.slice(calls)).toEqual(['GetCacheEntryDownloadURL', 'blob GET']);
      expect(logs).toContain(
        `restored capi-mgmt-k3s-m${/-m([0-9a-f]{8})\//.exec(k3s)![1]} ${K3S} from the Actions cache`,
      );
      expect(execFileSync(k3s, ['--version']).toString()).toContain(K3S);
      expect(results.takeUnexpected()).toEqual([]);
    } finally {
      process.env = saved;
      await results.close();
    }
  });
});
