import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gunzipSync, gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHelm, diffRelease, type Helm } from '../../src/helm/index.js';
import { createKubeClient } from '../../src/kube/index.js';
import { FIXTURES_DIR, startMirror, type Mirror } from '../../test/lab/mirror/server.js';
import { labHelm, labKubeconfig } from '../../test/lab/mirror/lab.js';

// Shares the lab's `seed` cluster under a unique namespace, removed afterwards.
const id = randomBytes(3).toString('hex');
const ns = `helm-test-${id}`;
const SECRET = `s3cr3t-${randomBytes(8).toString('hex')}`;

let mirror: Mirror;
let tmp: string;
let kubeconfig: string;
let helm: Helm;
let argLog: string;
const lines: string[] = [];
const log = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(`warning: ${m}`), debug: () => {} };

/** A helm that records its arguments and the modes of the files it was handed, then runs the real one. */
function recordingHelm(real: string, fakeVersion?: string): string {
  const path = join(tmp, fakeVersion ? `helm-${fakeVersion}` : 'helm-recording');
  const version = fakeVersion ? `if [ "$1" = version ]; then echo "${fakeVersion}+gdeadbee"; exit 0; fi\n` : '';
  writeFileSync(
    path,
    `#!/bin/sh\n${version}echo "ARGS $*" >> ${argLog}\n` +
      `prev=""; for a in "$@"; do case "$prev" in --values|--kubeconfig) echo "FILE $a $(stat -c %a "$a")" >> ${argLog};; esac; prev="$a"; done\n` +
      `exec ${real} "$@"\n`,
    { mode: 0o755 },
  );
  return path;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'capi-mgmt-helm-'));
  argLog = join(tmp, 'args.log');
  mirror = await startMirror({ helm: labHelm() });
  kubeconfig = labKubeconfig('seed');
  helm = createHelm({
    binary: recordingHelm(labHelm()),
    kubeconfig,
    log,
    env: {
      HELM_CACHE_HOME: join(tmp, 'cache'),
      HELM_CONFIG_HOME: join(tmp, 'config'),
      HELM_DATA_HOME: join(tmp, 'data'),
    },
  });
});

afterAll(async () => {
  await mirror?.close();
  await createKubeClient(labKubeconfig('seed')).delete({ apiVersion: 'v1', kind: 'Namespace', name: ns });
  rmSync(tmp, { recursive: true, force: true });
});

describe('helm CLI wrapper on the lab', () => {
  it('reads the helm version', async () => {
    expect(await helm.version()).toBe(mirror.helmVersion.slice(1));
  });

  it('installs a local chart with values from private temp files, never on the command line', async () => {
    const rel = await helm.upgradeInstall({
      release: 'janitor-local',
      namespace: ns,
      chart: { kind: 'local', path: join(FIXTURES_DIR, 'charts/cluster-api-janitor-openstack') },
      values: [{ config: { defaultVolumesPolicy: 'keep' } }, { token: SECRET }],
      createNamespace: true,
      wait: true,
      timeoutMs: 120_000,
    });
    expect(rel).toMatchObject({
      name: 'janitor-local',
      namespace: ns,
      status: 'deployed',
      chart: 'cluster-api-janitor-openstack',
      revision: 1,
    });
    expect(await helm.getValues('janitor-local', ns)).toEqual({
      config: { defaultVolumesPolicy: 'keep' },
      token: SECRET,
    });
    const recorded = readFileSync(argLog, 'utf8');
    expect(recorded).not.toContain(SECRET);
    const files = [...recorded.matchAll(/^FILE (\S+) (\d+)$/gm)];
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const [, path, mode] of files) {
      expect(mode).toBe('600');
      expect(existsSync(path!)).toBe(false); // removed after the call
    }
  });

  it('installs and upgrades a repository chart from the mirror (--repo), with a values diff for plans', async () => {
    const [v1, v2] = mirror.versions.janitor;
    const chart = (version: string) => ({
      kind: 'repo' as const,
      repo: mirror.url,
      name: 'cluster-api-janitor-openstack',
      version,
    });
    const r1 = await helm.upgradeInstall({
      release: 'janitor',
      namespace: ns,
      chart: chart(v1!),
      values: [{}],
      atomic: true,
      wait: true,
      timeoutMs: 120_000,
    });
    expect(r1.chartVersion).toBe(v1);
    const deployed = { chartVersion: r1.chartVersion, values: await helm.getValues('janitor', ns), status: r1.status };
    expect(diffRelease(deployed, { chartVersion: v1!, values: {} }).changed).toBe(false);
    expect(diffRelease(deployed, { chartVersion: v2!, values: { replicaCount: 1 } })).toMatchObject({
      changed: true,
      chartVersion: { before: v1, after: v2 },
      valuePaths: ['replicaCount'],
    });
    const r2 = await helm.upgradeInstall({
      release: 'janitor',
      namespace: ns,
      chart: chart(v2!),
      values: [{ replicaCount: 1 }],
      atomic: true,
      wait: true,
      timeoutMs: 120_000,
    });
    expect(r2).toMatchObject({ chartVersion: v2, revision: 2, status: 'deployed', appVersion: v2 });
    expect(readFileSync(argLog, 'utf8')).toMatch(/--atomic/);
  });

  it('recovers a release an interrupted run left pending-upgrade', async () => {
    await markPending('janitor', 2);
    expect((await helm.status('janitor', ns))?.status).toBe('pending-upgrade');
    lines.length = 0;
    const chart = {
      kind: 'repo' as const,
      repo: mirror.url,
      name: 'cluster-api-janitor-openstack',
      version: mirror.versions.janitor[1]!,
    };
    const r = await helm.upgradeInstall({
      release: 'janitor',
      namespace: ns,
      chart,
      values: [{ replicaCount: 1 }],
      wait: true,
      timeoutMs: 120_000,
    });
    expect(r.status).toBe('deployed');
    expect(lines).toContain(
      `warning: release ${ns}/janitor was left pending-upgrade by an interrupted run; recovering`,
    );
  });

  it('fails clearly for a chart version the repository does not have', async () => {
    await expect(
      helm.upgradeInstall({
        release: 'nope',
        namespace: ns,
        chart: { kind: 'repo', repo: mirror.url, name: 'cert-manager', version: 'v0.0.9' },
      }),
    ).rejects.toThrow(/helm upgrade --install nope failed: .*v0.0.9/s);
  });

  it('reports status and uninstalls', async () => {
    expect(await helm.status('absent', ns)).toBeUndefined();
    expect(await helm.uninstall('janitor-local', ns, { wait: true, timeoutMs: 60_000 })).toBe(true);
    expect(await helm.status('janitor-local', ns)).toBeUndefined();
    expect(await helm.uninstall('janitor-local', ns)).toBe(false);
  });

  it('switches off a feature an older helm lacks, with a warning', async () => {
    const old = createHelm({ binary: recordingHelm(labHelm(), 'v3.15.2'), kubeconfig, log });
    lines.length = 0;
    await old.upgradeInstall({
      release: 'janitor',
      namespace: ns,
      chart: {
        kind: 'repo',
        repo: mirror.url,
        name: 'cluster-api-janitor-openstack',
        version: mirror.versions.janitor[1]!,
      },
      values: [{ replicaCount: 1 }],
      skipSchemaValidation: true,
    });
    expect(lines).toContain(
      'warning: helm 3.15.2 has no --skip-schema-validation (needs 3.16.0); continuing without it',
    );
    const tooOld = createHelm({ binary: recordingHelm(labHelm(), 'v3.7.0'), kubeconfig, log });
    await expect(tooOld.version()).rejects.toThrow(/helm 3.7.0 is too old: capi-mgmt needs helm >= 3.8.0/);
  });
});

/** Rewrite a stored helm release (secret: base64 of gzipped JSON) as if its operation never finished. */
async function markPending(release: string, revision: number): Promise<void> {
  const kube = createKubeClient(kubeconfig);
  const ref = { apiVersion: 'v1', kind: 'Secret', namespace: ns, name: `sh.helm.release.v1.${release}.v${revision}` };
  const secret = (await kube.get(ref))!;
  const data = secret.data as { release: string };
  const body = JSON.parse(
    gunzipSync(Buffer.from(Buffer.from(data.release, 'base64').toString(), 'base64')).toString(),
  ) as {
    info: { status: string };
  };
  body.info.status = 'pending-upgrade';
  const encoded = Buffer.from(gzipSync(JSON.stringify(body)).toString('base64')).toString('base64');
  await kube.apply(
    [
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: ref.name, namespace: ns, labels: { status: 'pending-upgrade' } },
        data: { release: encoded },
      },
    ],
    { force: true },
  );
}
