/**
 * Layer seed-k3s end to end against the lab seed host: the real sshd, the
 * real bootstrap script, OS stand-ins, and a lab Kubernetes cluster standing
 * in for K3s behind the SSH tunnel.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import ssh2 from 'ssh2';
import { parse } from 'yaml';
import { Engine } from '../../src/engine/engine.js';
import { createKubeClient } from '../../src/kube/index.js';
import { seedK3sLayer, seedK3sOutputs, type SeedK3sOptions } from '../../src/layers/seed-k3s/index.js';
import { runBootstrap, stagedBinaryPath } from '../../src/layers/seed-k3s/remote.js';
import { connectSsh, fingerprint, HostKeyMismatchError, SshConnectionLostError } from '../../src/ssh/index.js';
import { Redactor } from '../../src/util/redact.js';
import { testDesired } from '../helpers/desired.js';
import { MemoryLogger } from '../helpers/logger.js';
import { makeK3s, Sandbox, seedHost, type SeedHost } from './ssh-sandbox.js';

const V1 = 'v1.34.8+k3s1';
const V2 = 'v1.34.9+k3s1';
const PUB = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk test';

let host: SeedHost;
let sb: Sandbox;
let tmp: string;

beforeAll(() => {
  host = seedHost();
  sb = Sandbox.create('k3s');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seed-k3s-lab-'));
});

afterAll(() => {
  sb?.remove(); // also stops its K3s stand-in and deletes the lab cluster it started
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  engine: Engine;
  log: MemoryLogger;
}

function engine(version: string, o: SeedK3sOptions & { ssh?: Record<string, unknown> } = {}): Run {
  const { ssh, ...layerOpts } = o;
  const desired = testDesired('lab-k3s', {
    seed: {
      sshPublicKey: PUB,
      ssh: {
        address: '127.0.0.1',
        port: host.port,
        user: host.user,
        hostKey: host.hostKey,
        connectTimeoutSeconds: 30,
        ...ssh,
      },
    },
    versions: { k3s: version },
  });
  const log = new MemoryLogger();
  const layer = seedK3sLayer({
    k3sBinary: (v) => Promise.resolve(makeK3s(v, tmp)),
    dataVolume: { volumeId: sb.volumeId },
    apiTimeoutSeconds: 240,
    ...layerOpts,
  });
  return {
    engine: new Engine({
      desired,
      layers: [layer],
      log,
      redactor: new Redactor(),
      secrets: { sshPrivateKey: sb.privateKey },
    }),
    log,
  };
}

const restarts = (calls: string[]) => calls.filter((c) => /^systemctl (restart|start) /.test(c));
const runningVersion = () => fs.readFileSync(path.join(sb.dir, 'state/k3s-running-version'), 'utf8').trim();

describe('seed-k3s on the lab seed host', () => {
  it('bootstraps K3s from scratch and serves its API through the SSH tunnel', async () => {
    const { engine: e, log } = engine(V1);
    try {
      const plan = await e.plan();
      expect(plan.changes).toMatchObject([{ address: 'k3s/capi-mgmt-lab-k3s-seed', action: 'create' }]);
      const t0 = Date.now();
      const { applied } = await e.apply();
      console.log(`bootstrap from scratch: ${Date.now() - t0} ms`);
      expect(applied).toHaveLength(1);

      const calls = sb.newCalls();
      expect(calls).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^mkfs\.xfs -q -L k3s-data .*\/root\/dev\/vdb$/),
          expect.stringMatching(/^mount -t xfs .*\/root\/dev\/vdb .*\/root\/var\/lib\/rancher\/k3s$/),
          'systemctl enable -q k3s-server',
          'systemctl restart k3s-server',
          'k3s server --disable traefik --write-kubeconfig-mode 0600',
        ]),
      );
      expect(log.lines).toContain('[seed] format');
      expect(log.lines.some((l) => l.startsWith('[seed] CAPI_MGMT_RESULT mode=apply changed=1'))).toBe(true);

      // The kubeconfig points at the local end of the tunnel, not at the API's own port.
      const kubeconfig = e.outputs.get(seedK3sOutputs)!.kubeconfig;
      const server = (parse(kubeconfig) as { clusters: Array<{ cluster: { server: string } }> }).clusters[0]!.cluster
        .server;
      const k3sYaml = fs.readFileSync(path.join(sb.root, 'etc/rancher/k3s/k3s.yaml'), 'utf8');
      expect(server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(k3sYaml).not.toContain(server);
      const kube = createKubeClient(kubeconfig);
      const names = (await kube.list('v1', 'Namespace')).map((n) => n.metadata?.name);
      expect(names).toEqual(expect.arrayContaining(['default', 'kube-system']));

      await e.close();
      const port = Number(new URL(server).port);
      await expect(
        new Promise((resolve, reject) => net.connect(port, '127.0.0.1').once('connect', resolve).once('error', reject)),
      ).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await e.close();
    }
  });

  it('plans nothing on a re-run, and the script itself reports nothing changed', async () => {
    const { engine: e } = engine(V1);
    try {
      const { plan, applied } = await e.apply();
      expect(plan.changes.map((c) => c.action)).toEqual(['no-op']);
      expect(applied).toEqual([]);
      expect(e.outputs.get(seedK3sOutputs)?.kubeconfig).toBeDefined();
    } finally {
      await e.close();
    }
    const s = await connectSsh({
      host: '127.0.0.1',
      port: host.port,
      user: host.user,
      hostKey: host.hostKey,
      privateKey: sb.privateKey,
    });
    try {
      const up = await s.upload({ path: makeK3s(V1, tmp) }, stagedBinaryPath(V1), { mode: '0755' });
      expect(up.uploaded).toBe(false); // already staged by the first run
      const r = await runBootstrap(s, {
        mode: 'apply',
        version: V1,
        binary: { path: stagedBinaryPath(V1), sha256: up.sha256 },
        dataVolumeId: sb.volumeId,
      });
      expect(r).toMatchObject({ changed: false, steps: [], version: V1, healthy: true });
    } finally {
      await s.close();
    }
    const calls = sb.newCalls();
    expect(restarts(calls)).toEqual([]);
    expect(calls.some((c) => c.startsWith('mkfs') || c.startsWith('mount ') || c.startsWith('k3s server'))).toBe(false);
  });

  it('upgrades K3s in place, reconnecting when the connection drops mid-bootstrap', async () => {
    const { engine: e, log } = engine(V2);
    try {
      const plan = await e.plan();
      expect(plan.changes).toMatchObject([{ action: 'update', reason: `upgrade K3s from ${V1} to ${V2}` }]);
      sb.armFault('systemctl restart');
      const { applied } = await e.apply();
      expect(applied).toHaveLength(1);
      expect(
        log.lines.some((l) =>
          /SSH connection lost while running .*reconnecting and running the bootstrap again/.test(l),
        ),
      ).toBe(true);
      const calls = sb.newCalls();
      expect(calls).toContain("fault: session dropped at 'systemctl restart k3s-server'");
      expect(restarts(calls)).toEqual(['systemctl restart k3s-server', 'systemctl restart k3s-server']);
      await vi.waitFor(() => expect(runningVersion()).toBe(V2), { timeout: 20_000 });
      expect(calls.some((c) => c.startsWith('mkfs'))).toBe(false);
    } finally {
      await e.close();
    }
  });

  it('recovers a bootstrap cut off by a dropped connection with a re-run', async () => {
    sb.armFault('systemctl restart');
    const first = engine(V1, { bootstrapAttempts: 1 });
    try {
      await expect(first.engine.apply()).rejects.toBeInstanceOf(SshConnectionLostError);
    } finally {
      await first.engine.close();
    }
    // Cut off after installing the binary and before the restart: the old K3s still runs.
    await vi.waitFor(() => expect(runningVersion()).toBe(V2), { timeout: 20_000 });
    sb.newCalls();

    const again = engine(V1);
    try {
      const { plan } = await again.engine.apply();
      // The binary is already V1, so this is drift (a pending restart), not an upgrade.
      expect(plan.changes).toMatchObject([{ action: 'update', reason: 'repair the seed: restart' }]);
      expect(restarts(sb.newCalls())).toEqual(['systemctl restart k3s-server']);
      await vi.waitFor(() => expect(runningVersion()).toBe(V1), { timeout: 20_000 });
      expect((await again.engine.plan()).changes.map((c) => c.action)).toEqual(['no-op']);
    } finally {
      await again.engine.close();
    }
  });

  it('reaches the seed through a jump host', async () => {
    const { engine: e } = engine(V1, {
      ssh: { jumpHost: { host: '127.0.0.1', port: host.port, user: host.user, hostKey: host.hostKey } },
    });
    try {
      const plan = await e.plan();
      expect(plan.changes.map((c) => c.action)).toEqual(['no-op']);
      const names = (await createKubeClient(e.outputs.get(seedK3sOutputs)!.kubeconfig).list('v1', 'Namespace')).map(
        (n) => n.metadata?.name,
      );
      expect(names).toContain('default');
    } finally {
      await e.close();
    }
  });

  it('refuses a seed whose host key changed', async () => {
    const pinned = ssh2.utils.generateKeyPairSync('ed25519').public;
    const { engine: e } = engine(V1, { ssh: { hostKey: pinned } });
    try {
      const err = await e.plan().catch((x: unknown) => x);
      expect(err).toBeInstanceOf(HostKeyMismatchError);
      expect((err as Error).message).toContain(fingerprint(pinned));
      expect((err as Error).message).toContain(fingerprint(host.hostKey));
    } finally {
      await e.close();
    }
  });

  it('records a host key trusted on first use in the plan notes', async () => {
    const { engine: e } = engine(V1, { ssh: { hostKey: undefined } });
    try {
      const plan = await e.plan();
      expect(plan.notes).toEqual([expect.stringContaining(`trusted on first use: ${fingerprint(host.hostKey)}`)]);
      expect(plan.notes[0]).toContain(`pin it with seed.ssh.hostKey: ${host.hostKey}`);
    } finally {
      await e.close();
    }
  });
});
