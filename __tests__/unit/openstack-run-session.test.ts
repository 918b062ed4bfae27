/**
 * One clouds.yaml resolver and one Keystone login per run: the run lock's
 * marker and seed-infra reach the cloud through the same session.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { seedInfraLayer } from '../../src/layers/seed-infra/index.js';
import { productionLockPlaces } from '../../src/lock/backends.js';
import { lockedLayers, RunLock } from '../../src/lock/run-lock.js';
import { createOpenStackClient } from '../../src/openstack/client.js';
import { resolveCloud, runSession } from '../../src/openstack/connection.js';
import { Redactor } from '../../src/util/redact.js';
import { FAKE_CLOUDS_YAML, FakeOpenStack } from '../fakes/openstack.js';
import { testDesired } from '../helpers/desired.js';
import { MemoryLogger } from '../helpers/logger.js';

const QUICK = { serverMs: 5000, volumeMs: 5000, floatingIpMs: 5000, deleteMs: 5000, intervalMs: 0 };

function desired(name: string) {
  return testDesired(name, {
    openstack: { cloud: 'fake', cloudsYaml: FAKE_CLOUDS_YAML },
    seed: {
      sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk test',
      image: { name: 'ubuntu' },
      dataVolume: { size: 1 },
    },
  });
}

describe('the run session to OpenStack', () => {
  it('is shared by everything in one run and by nothing in another', () => {
    const a = desired('one');
    const b = desired('two');
    const s = runSession(a.config.openstack, a.dir);
    expect(createOpenStackClient(a.config.openstack, a.dir).session).toBe(s);
    expect(runSession(b.config.openstack, b.dir)).not.toBe(s);
    expect(s.cloud).toEqual(resolveCloud(a.config.openstack, a.dir));
  });

  it('logs in once for the lock and the seed-infra layer together', async () => {
    const cloud = new FakeOpenStack();
    const d = desired('login');
    const session = runSession(d.config.openstack, d.dir, {
      transport: cloud.transport(),
      random: () => 0.5,
      sleep: async () => {},
    });
    const lock = new RunLock({
      holder: 'unit-test',
      ttlSeconds: 60,
      timeoutSeconds: 5,
      places: {
        preSeed: productionLockPlaces.preSeed,
        onSeed: () => {
          throw new Error('no seed in this test');
        },
      },
      pollMs: 1,
    });
    const engine = new Engine({
      desired: d,
      layers: lockedLayers([seedInfraLayer({ waits: QUICK })], lock),
      log: new MemoryLogger(),
      redactor: new Redactor(),
    });
    try {
      const r = await engine.apply();
      expect(r.applied.length).toBeGreaterThan(0);
    } finally {
      await lock.release();
      await engine.close();
    }
    expect(lock.history.join(' ')).toMatch(/lock/);
    expect(session.logins).toBe(1);
    const tokenRequests = cloud.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/auth/tokens'));
    expect(tokenRequests).toHaveLength(1);
  });
});
