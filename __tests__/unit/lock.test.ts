import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { abandonedHere, cliHolder } from '../../src/cli/lock-holder.js';
import { acquireLock } from '../../src/lock/acquire.js';
import { OpenStackMarkerLock } from '../../src/lock/openstack-marker.js';
import { lockedLayers, RunLock } from '../../src/lock/run-lock.js';
import { LockedError } from '../../src/lock/types.js';
import type { AnyLayer } from '../../src/engine/types.js';
import { seedK3sOutputs } from '../../src/layers/seed-k3s/outputs.js';
import { layerContext } from '../helpers/layer-context.js';
import { testDesired } from '../helpers/desired.js';
import { MemoryLock, MemoryMarkerStore } from '../helpers/lock-memory.js';
import { seedOutputs } from '../helpers/seed-outputs.js';

const fast = { ttlSeconds: 30, pollMs: 20, progressMs: 60 };

describe('acquireLock', () => {
  it('waits with progress lines, then fails with the holder named', async () => {
    const b = new MemoryLock('test lock');
    await b.tryAcquire('https://run/1', 60);
    const lines: string[] = [];
    const err = await acquireLock(b, {
      ...fast,
      holder: 'https://run/2',
      timeoutSeconds: 0.3,
      log: (m) => lines.push(m),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockedError);
    expect((err as LockedError).failureReason).toBe('locked');
    expect((err as Error).message).toMatch(/test lock is held by https:\/\/run\/1 until .*; gave up after 0 s/);
    expect(lines[0]).toBe('test lock is held by https://run/1; waiting');
    expect(lines.some((l) => l.startsWith('still waiting for the lock (test lock)'))).toBe(true);
  });

  it('gets the lock once the holder releases it, and releases it itself', async () => {
    const b = new MemoryLock('test lock');
    await b.tryAcquire('https://run/1', 60);
    setTimeout(() => void b.release('https://run/1'), 100);
    const held = await acquireLock(b, { ...fast, holder: 'https://run/2', timeoutSeconds: 5, log: () => {} });
    expect(b.state?.holder).toBe('https://run/2');
    await held.release();
    expect(b.state).toBeUndefined();
  });

  it('takes over an expired lock', async () => {
    const b = new MemoryLock('test lock');
    b.state = { holder: 'https://crashed', expiresAt: new Date(Date.now() - 1000) };
    await acquireLock(b, { ...fast, holder: 'https://run/3', timeoutSeconds: 0, log: () => {} });
    expect(b.state?.holder).toBe('https://run/3');
  });
});

const ctx = () => layerContext(testDesired('prod'));

describe('RunLock', () => {
  it('holds the OpenStack-side lock until the seed appears, then the Lease only', async () => {
    const pre = new MemoryLock('marker');
    const seed = new MemoryLock('lease');
    const lock = new RunLock({
      holder: 'https://run/1',
      ttlSeconds: 30,
      timeoutSeconds: 1,
      places: { preSeed: () => pre, onSeed: () => seed },
    });
    const c = ctx();
    const order: string[] = [];
    const layer = (name: string, makesSeed: boolean): AnyLayer => ({
      name,
      observe: async () =>
        order.push(`observe ${name} pre=${pre.state?.holder ?? '-'} seed=${seed.state?.holder ?? '-'}`),
      diff: () => ({ changes: [] }),
      apply: async (_ch, _o, x) => {
        if (makesSeed) x.publish(seedK3sOutputs, seedOutputs('kubeconfig'));
      },
      restore: async () => {
        order.push('restore');
      },
    });
    const [infra, platform] = lockedLayers([layer('seed-infra', true), layer('platform', false)], lock);
    await infra!.observe(c);
    await infra!.apply([], undefined, c);
    await platform!.observe(c);
    expect(infra!.diff({} as never, undefined)).toEqual({ changes: [] });
    await platform!.restore!('latest', c);
    expect(order).toEqual([
      'observe seed-infra pre=https://run/1 seed=-',
      'observe platform pre=- seed=https://run/1',
      'restore',
    ]);
    expect(lock.history).toEqual(['marker', 'lease']);
    // The run session releases it (before closing tunnels); the layers register nothing for it.
    expect(c.cleanups).toHaveLength(0);
    await lock.release();
    await lock.release();
    expect(seed.state).toBeUndefined();
    expect(pre.log).toEqual(['acquire https://run/1', 'release https://run/1']);
  });

  it('keeps optional hooks absent when the layer has none', () => {
    const lock = new RunLock({
      holder: 'h',
      ttlSeconds: 30,
      timeoutSeconds: 1,
      places: { preSeed: () => undefined, onSeed: () => new MemoryLock('x') },
    });
    const [l] = lockedLayers(
      [{ name: 'a', observe: async () => 1, diff: () => ({ changes: [] }), apply: async () => {} }],
      lock,
    );
    expect(l!.restore).toBeUndefined();
    expect(l!.diffDestroy).toBeUndefined();
  });
});

describe('OpenStackMarkerLock', () => {
  it('takes a free lock, refuses a held one, and takes over an expired one', async () => {
    const store = new MemoryMarkerStore();
    const a = new OpenStackMarkerLock(store, 'capi-mgmt-prod-lock');
    expect(await a.tryAcquire('https://run/1', 60)).toEqual({ ok: true });
    expect(await a.tryAcquire('https://run/1', 60)).toEqual({ ok: true });
    const r = await a.tryAcquire('https://run/2', 60);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.current.holder).toBe('https://run/1');
    await a.renew('https://run/1', 60);
    expect(store.groups).toHaveLength(1);
    await a.release('https://run/2'); // not ours: nothing happens
    expect(store.groups).toHaveLength(1);
    store.groups[0]!.description = `capi-mgmt lock ${JSON.stringify({ holder: 'https://run/1', expiresAt: new Date(Date.now() - 1).toISOString() })}`;
    expect(await a.tryAcquire('https://run/2', 60)).toEqual({ ok: true });
    expect(store.groups).toHaveLength(1);
    await a.release('https://run/2');
    expect(store.groups).toHaveLength(0);
  });

  it('never lets two racers both win', async () => {
    for (let round = 0; round < 3; round++) {
      const store = new MemoryMarkerStore();
      // Both list (empty), both create, then both look again.
      let listed = 0;
      let release: () => void = () => {};
      const bothListed = new Promise<void>((r) => (release = r));
      store.hook = async (op) => {
        if (op === 'list' && ++listed === 2) release();
        if (op === 'create') await bothListed;
      };
      const lock = new OpenStackMarkerLock(store, 'capi-mgmt-prod-lock');
      const results = await Promise.all([lock.tryAcquire('https://run/A', 60), lock.tryAcquire('https://run/B', 60)]);
      expect(results.filter((r) => r.ok).length).toBeLessThanOrEqual(1);
      // The loser removed its marker.
      expect(store.groups.length).toBe(results.filter((r) => r.ok).length);
    }
  });
});

describe('a CLI holder killed on this machine', () => {
  const dead = `someone@${os.hostname()} (capi-mgmt CLI, pid 2147483646)`;
  it('is abandoned only when it is on this host and its process is gone', () => {
    expect(abandonedHere({ holder: dead })).toBe(true);
    expect(abandonedHere({ holder: cliHolder() })).toBe(false);
    expect(abandonedHere({ holder: 'someone@elsewhere (capi-mgmt CLI, pid 2147483646)' })).toBe(false);
    expect(abandonedHere({ holder: 'https://github.com/acme/platform/actions/runs/1' })).toBe(false);
  });

  it('loses its marker at once to the next run, while a live holder keeps it', async () => {
    const store = new MemoryMarkerStore();
    const lock = new OpenStackMarkerLock(store, 'capi-mgmt-prod-lock');
    expect((await lock.tryAcquire(dead, 600)).ok).toBe(true);
    expect((await lock.tryAcquire('next', 600)).ok).toBe(false);
    expect((await lock.tryAcquire('next', 600, abandonedHere)).ok).toBe(true);
    const live = new OpenStackMarkerLock(new MemoryMarkerStore(), 'capi-mgmt-prod-lock');
    expect((await live.tryAcquire(cliHolder(), 600)).ok).toBe(true);
    expect((await live.tryAcquire('next', 600, abandonedHere)).ok).toBe(false);
  });
});
