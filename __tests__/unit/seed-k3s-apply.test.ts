/**
 * seed-k3s's apply path on a fake seed host (SSH sessions, the bootstrap's
 * effects, the API tunnel), alone and behind seed-infra on the fake
 * OpenStack. The bootstrap script itself is proven on the lab's seed host;
 * here the layer's decisions are: what to plan, when to upload, how it
 * reconnects after a dropped connection, what it hands on, and how it fails.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import type { AnyLayer } from '../../src/engine/types.js';
import { seedInfraLayer } from '../../src/layers/seed-infra/index.js';
import { seedK3sLayer, seedK3sOutputs, type SeedK3sOptions } from '../../src/layers/seed-k3s/index.js';
import { hasChanges } from '../../src/plan/plan.js';
import { fingerprint } from '../../src/ssh/host-key.js';
import { Redactor } from '../../src/util/redact.js';
import { FakeOpenStack } from '../fakes/openstack.js';
import { fakeK3sBinary, FakeSeedHost, OTHER_HOST_KEY, SEED_HOST_KEY, SEED_PRIVATE_KEY } from '../fakes/ssh.js';
import { MemoryLogger } from '../helpers/logger.js';
import { testDesired } from '../helpers/desired.js';
import { KEY } from '../helpers/seed-infra-fixture.js';

const ADDRESS = '203.0.113.10';
const VOLUME = '6f1c2a9e-5d4b-4c3a-9e8f-7a6b5c4d3e2f';
const V1 = 'v1.34.8+k3s1';
const V2 = 'v1.35.1+k3s1';
const ADDR = 'k3s/capi-mgmt-unit-seed';

const dirs: string[] = [];
const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function world(o: { seed?: Record<string, unknown>; k3s?: string; host?: FakeSeedHost } = {}) {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'k3s-fake-'));
  dirs.push(bin);
  const host = o.host ?? new FakeSeedHost({ address: ADDRESS });
  host.attach(VOLUME);
  const desired = testDesired('unit', {
    seed: { sshPublicKey: KEY, ssh: { address: ADDRESS, connectTimeoutSeconds: 1 }, ...o.seed },
    versions: { k3s: o.k3s ?? V1 },
  });
  const options = (over: Partial<SeedK3sOptions> = {}): SeedK3sOptions => ({
    k3sBinary: async (v) => fakeK3sBinary(bin, v),
    dataVolume: { volumeId: VOLUME },
    ssh: { connect: host.connect, intervalMs: 5 },
    apiVersion: host.apiVersion,
    ...over,
  });
  const engine = (over: Partial<SeedK3sOptions> = {}, log = new MemoryLogger(), key = SEED_PRIVATE_KEY) => {
    const e = new Engine({
      desired,
      layers: [seedK3sLayer(options(over))],
      log,
      redactor: new Redactor(),
      secrets: key ? { sshPrivateKey: key } : {},
    });
    engines.push(e);
    return e;
  };
  return { host, desired, engine };
}

/** What a run changed on the seed: bootstrap applies and files sent. */
const writes = (host: FakeSeedHost) => ({
  applies: host.bootstraps.filter((b) => b.mode === 'apply').length,
  uploads: host.uploads.length,
});

describe('seed-k3s apply on a fake seed host', () => {
  it('installs K3s from nothing, hands on a tunnelled kubeconfig, then a re-run changes nothing', async () => {
    const { host, engine } = world();
    const e = engine();
    const plan = await e.plan();
    expect(plan.changes).toMatchObject([{ address: ADDR, action: 'create', reason: `install K3s ${V1} on the seed` }]);
    expect(plan.notes.join('\n')).toMatch(`seed host key trusted on first use: ${fingerprint(SEED_HOST_KEY)}`);
    expect(writes(host)).toEqual({ applies: 0, uploads: 0 });

    await e.apply();
    expect(host.bootstraps.at(-1)).toEqual({
      mode: 'apply',
      steps: ['sysctl', 'format', 'fstab', 'mount', 'binary', 'unit', 'enable', 'restart'],
    });
    expect(host.version()).toBe(V1);
    expect(host.uploads).toEqual([`~/.cache/capi-mgmt/k3s-${V1}`]);
    // The kubeconfig handed on reaches the seed's API through the open tunnel.
    const kubeconfig = e.outputs.get(seedK3sOutputs)!.kubeconfig;
    expect(kubeconfig).toMatch(/server: https:\/\/127\.0\.0\.1:\d+/);
    expect(await host.apiVersion(kubeconfig)).toBe(V1);
    expect(host.connections).toEqual([{ host: ADDRESS, port: 22, user: 'ubuntu' }]);

    await e.close();
    expect(host.openForwards()).toBe(0);

    const before = writes(host);
    const again = await engine().apply();
    expect(again.plan.changes).toMatchObject([{ address: ADDR, action: 'no-op' }]);
    expect(again.applied).toEqual([]);
    expect(writes(host)).toEqual(before);
  });

  it('repairs drift on the seed: unit gone, service stopped, volume unmounted', async () => {
    const { host, engine } = world();
    await engine().apply();
    Object.assign(host.state, { unit: false, active: false, mounted: undefined });
    const plan = await engine().plan();
    expect(plan.changes).toMatchObject([{ action: 'update', reason: 'repair the seed: mount, unit, start' }]);
    const before = writes(host);
    await engine().apply();
    expect(host.bootstraps.at(-1)).toEqual({ mode: 'apply', steps: ['mount', 'unit', 'restart'] });
    // The binary was already there: not sent again.
    expect(writes(host).uploads).toBe(before.uploads);
    expect(hasChanges(await engine().plan())).toBe(false);
  });

  it('upgrades K3s to a new pinned version', async () => {
    const { host, engine } = world();
    await engine().apply();
    const next = world({ k3s: V2, host });
    const plan = await next.engine().plan();
    expect(plan.changes).toMatchObject([{ action: 'update', reason: `upgrade K3s from ${V1} to ${V2}` }]);
    await next.engine().apply();
    expect(host.bootstraps.at(-1)).toEqual({ mode: 'apply', steps: ['binary', 'restart'] });
    expect(host.version()).toBe(V2);
    expect(hasChanges(await next.engine().plan())).toBe(false);
  });

  it('an unhealthy API is planned as a restart-and-wait, not ignored', async () => {
    const { host, engine } = world();
    await engine().apply();
    host.apiBroken = true;
    const plan = await engine().plan();
    expect(plan.changes).toMatchObject([{ action: 'update', reason: expect.stringMatching(/not healthy/) }]);
  });

  it('an API healthy on the seed but not through the tunnel is unhealthy, and no kubeconfig is handed on', async () => {
    const { host, engine } = world();
    await engine().apply();
    host.tunnelBroken = true;
    const e = engine();
    const plan = await e.plan();
    expect(plan.changes).toMatchObject([{ action: 'update', reason: expect.stringMatching(/not healthy/) }]);
    expect(e.outputs.get(seedK3sOutputs)).toBeUndefined();
  });

  describe('faults', () => {
    it('a connection dropped mid-bootstrap: reconnects and runs it again, finishing what was left', async () => {
      const { host, engine } = world();
      host.dropAfter = 'binary';
      const log = new MemoryLogger();
      await engine({}, log).apply();
      expect(log.lines.join('\n')).toMatch(
        /SSH connection lost while running the K3s bootstrap; reconnecting and running the bootstrap again/,
      );
      // The second run does only the rest; the restart the new binary needs is not lost.
      expect(host.bootstraps.at(-1)).toEqual({ mode: 'apply', steps: ['unit', 'enable', 'restart'] });
      expect(host.connections).toHaveLength(2);
      expect(hasChanges(await engine().plan())).toBe(false);
    });

    it('a dropped connection with no attempts left fails the run; the next run restarts K3s', async () => {
      const { host, engine } = world();
      await engine().apply();
      const next = world({ k3s: V2, host });
      host.dropAfter = 'binary';
      await expect(next.engine({ bootstrapAttempts: 1 }).apply()).rejects.toThrow(
        /SSH connection lost while running the K3s bootstrap/,
      );
      const plan = await next.engine().plan();
      expect(plan.changes).toMatchObject([{ action: 'update', reason: 'repair the seed: restart' }]);
      await next.engine().apply();
      expect(host.bootstraps.at(-1)).toEqual({ mode: 'apply', steps: ['restart'] });
      expect(hasChanges(await next.engine().plan())).toBe(false);
    });

    it('an API that never becomes ready fails with the unit to look at', async () => {
      const { host, engine } = world();
      host.apiBroken = true;
      await expect(engine({ apiTimeoutSeconds: 5 }).apply()).rejects.toThrow(
        'the K3s bootstrap (apply) failed on the seed: error: the K3s API did not become ready within 5s (see: journalctl -u k3s-server)',
      );
    });

    it('a seed still booting: SSH is retried until it answers', async () => {
      const { host, engine } = world();
      host.refuseConnections = 3;
      await engine().apply();
      expect(host.version()).toBe(V1);
    });

    it('SSH that never answers: the run fails with a timeout naming the address', async () => {
      const { host, engine } = world();
      host.refuseConnections = Infinity;
      await expect(engine().plan()).rejects.toThrow(
        `timed out after 1 s waiting for SSH on ubuntu@${ADDRESS}:22 (last seen: connect ECONNREFUSED ${ADDRESS}:22)`,
      );
    });

    it('a changed host key is refused at once, without retries', async () => {
      const { host, engine } = world({ seed: { ssh: { address: ADDRESS, hostKey: SEED_HOST_KEY } } });
      host.hostKey = OTHER_HOST_KEY;
      await expect(engine().plan()).rejects.toThrow(/host key of 203\.0\.113\.10:22 changed/);
      expect(host.connections).toEqual([]);
    });

    it('a data volume that is not attached fails the bootstrap, naming the volume', async () => {
      const { host, engine } = world();
      await expect(
        engine({ dataVolume: { volumeId: 'a0a0a0a0-0000-4000-8000-000000000000' } }).apply(),
      ).rejects.toThrow(/data volume a0a0a0a0-0000-4000-8000-000000000000 is not attached/);
      expect(host.version()).toBeUndefined();
    });

    it('no private key: a clear error before any connection, naming the secret, not an action input', async () => {
      const { host, engine } = world();
      const failure = engine({}, new MemoryLogger(), '').plan();
      await expect(failure).rejects.toThrow(/no SSH private key for the seed: .*sshPrivateKey.*seed\.sshPublicKey/);
      await expect(failure).rejects.toMatchObject({ name: 'MissingSecretError', secret: 'sshPrivateKey' });
      await expect(failure).rejects.not.toThrow(/input/);
      expect(host.connections).toEqual([]);
    });
  });
});

describe('seed-infra then seed-k3s, on the fake OpenStack and a fake seed', () => {
  function stack() {
    const cloud = new FakeOpenStack();
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'k3s-fake-'));
    dirs.push(bin);
    // The seed's disks are the cloud's volumes attached to it.
    const host = new FakeSeedHost({
      attachedVolumes: () => [...cloud.volumes.values()].filter((v) => v.status === 'in-use').map((v) => String(v.id)),
    });
    const desired = testDesired('unit', {
      seed: { sshPublicKey: KEY, image: { name: 'ubuntu' }, dataVolume: { size: 10 } },
      versions: { k3s: V1 },
    });
    const engine = () => {
      const layers: AnyLayer[] = [
        seedInfraLayer({
          client: cloud.client(),
          waits: { serverMs: 5000, volumeMs: 5000, floatingIpMs: 5000, deleteMs: 5000, intervalMs: 0 },
        }),
        seedK3sLayer({
          k3sBinary: async (v) => fakeK3sBinary(bin, v),
          ssh: { connect: host.connect, intervalMs: 5 },
          apiVersion: host.apiVersion,
        }),
      ];
      const e = new Engine({
        desired,
        layers,
        log: new MemoryLogger(),
        redactor: new Redactor(),
        secrets: { sshPrivateKey: SEED_PRIVATE_KEY },
      });
      engines.push(e);
      return e;
    };
    return { cloud, host, engine };
  }

  it('plans both from nothing, applies both, reaches the seed at its floating IP, and re-runs with zero writes', async () => {
    const { cloud, host, engine } = stack();
    const e = engine();
    const plan = await e.plan();
    expect(plan.changes.find((c) => c.layer === 'seed-k3s')).toMatchObject({
      action: 'create',
      reason: expect.stringMatching(/does not exist yet/),
    });
    await e.apply();
    const fip = [...cloud.floatingIps.values()][0]!;
    expect(host.connections[0]).toEqual({ host: fip.floating_ip_address, port: 22, user: 'ubuntu' });
    expect(host.version()).toBe(V1);
    expect(host.state.mounted).toBe(String([...cloud.volumes.keys()][0]).slice(0, 20));
    await e.close();

    cloud.clearLog();
    const before = writes(host);
    const again = await engine().apply();
    expect(hasChanges(again.plan)).toBe(false);
    expect(cloud.writes()).toEqual([]);
    expect(writes(host)).toEqual(before);

    await engine().destroy();
    expect(Object.values(cloud.inventory()).every((n) => n === 0)).toBe(true);
  });
});
