/**
 * The run session between the faces and the engine: the command policy,
 * validation before anything else, the lock released before the
 * connections it needs are closed, failure reasons, the post step's
 * release of a lock a cancelled run left, and the CLI's confirmation bound
 * to the plan it showed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT, main } from '../../src/cli/main.js';
import type { AnyLayer, LayerContext } from '../../src/engine/types.js';
import { seedK3sOutputs } from '../../src/layers/seed-k3s/outputs.js';
import type { LockPlaces } from '../../src/lock/run-lock.js';
import { commandPolicy } from '../../src/session/policy.js';
import { openSession, runCommand, type SessionRequest } from '../../src/session/session.js';
import { MemoryLock } from '../helpers/lock-memory.js';
import { MemoryLogger } from '../helpers/logger.js';
import { fileLayer } from '../helpers/memory-layer.js';
import { seedOutputs } from '../helpers/seed-outputs.js';

const PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk test';
const CLOUDS = 'clouds:\n  lab:\n    auth:\n      auth_url: http://127.0.0.1:9/v3\n';

let dir: string;
let world: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'session-'));
  world = path.join(dir, 'world.json');
  writeEnv('m1.small');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeEnv(flavor: string, extra: string[] = []): void {
  const envDir = path.join(dir, 'envs', 'env');
  fs.mkdirSync(envDir, { recursive: true });
  fs.writeFileSync(path.join(envDir, 'clouds.yaml'), CLOUDS);
  fs.writeFileSync(
    path.join(envDir, 'environment.yaml'),
    [
      'openstack:',
      '  cloud: lab',
      '  cloudsYamlFile: clouds.yaml',
      'seed:',
      `  sshPublicKey: ${PUBLIC_KEY}`,
      `  flavor: {name: ${flavor}}`,
      ...extra,
      '',
    ].join('\n'),
  );
}

/** One layer whose world is a file (the seed's flavor), which "opens a tunnel" and publishes the seed's API. */
function layers(events: string[], o: { failApply?: boolean } = {}): () => AnyLayer[] {
  return () => {
    const base = fileLayer({
      name: 'seed-k3s',
      file: world,
      want: (d) => ({ flavor: JSON.stringify(d.config.seed.flavor) }),
      outputs: seedK3sOutputs,
      publish: (ctx, w) => {
        if (w.flavor) ctx.publish(seedK3sOutputs, seedOutputs('seed-kubeconfig'));
      },
    });
    let tunnel = false;
    return [
      {
        ...base,
        observe: async (ctx: LayerContext) => {
          // One tunnel per run, as seed-k3s keeps it.
          if (!tunnel) ctx.onCleanup(() => void events.push('tunnel closed'));
          tunnel = true;
          return base.observe(ctx);
        },
        apply: async (changes, observed, ctx) => {
          if (o.failApply) throw new Error('the cloud said no');
          await base.apply(changes, observed, ctx);
        },
      },
    ];
  };
}

function places(events: string[]): LockPlaces & { marker: MemoryLock; lease: MemoryLock } {
  const marker = new MemoryLock('marker');
  const lease = new MemoryLock('lease');
  const tracked = (l: MemoryLock): MemoryLock => {
    const release = l.release.bind(l);
    l.release = async (holder) => {
      events.push(`${l.description} released`);
      await release(holder);
    };
    return l;
  };
  return { preSeed: () => tracked(marker), onSeed: () => tracked(lease), marker, lease };
}

function request(command: SessionRequest['command'], extra: Partial<SessionRequest> = {}): SessionRequest {
  return {
    command,
    environment: 'env',
    environmentsDir: path.join(dir, 'envs'),
    log: new MemoryLogger(),
    dirs: { temp: dir, toolCache: { kind: 'local', dir } },
    env: {},
    ...extra,
  };
}

describe('command policy', () => {
  it('is one table: what changes, locks, produces the kubeconfig and needs consent', () => {
    const row = (c: Parameters<typeof commandPolicy>[0], reconcile = false) => {
      const p = commandPolicy(c, { reconcile });
      return [p.changes, p.takesLock, p.producesKubeconfig, p.needsConfirmation, p.destructive];
    };
    expect(row('validate')).toEqual([false, false, false, false, false]);
    expect(row('plan')).toEqual([false, false, false, false, false]);
    expect(row('drift')).toEqual([false, false, false, false, false]);
    expect(row('drift', true)).toEqual([true, true, true, true, false]);
    expect(row('apply')).toEqual([true, true, true, true, false]);
    expect(row('restore')).toEqual([true, true, true, true, true]);
    expect(row('destroy')).toEqual([true, true, false, true, true]);
  });
});

describe('run session', () => {
  it('fails an invalid environment with invalid-config before any layer exists', async () => {
    writeEnv('m1.small', ['  falvor: x']);
    let built = 0;
    const outcome = await runCommand(
      request('apply', {
        layers: () => {
          built++;
          return [];
        },
      }),
    );
    expect(outcome.failureReason).toBe('invalid-config');
    if (outcome.failureReason !== 'invalid-config') return;
    expect(outcome.configError.issues[0]?.message).toMatch(/falvor: unknown key; did you mean "flavor"/);
    expect(built).toBe(0);
  });

  it('releases the lock before it closes the tunnel, on success and on failure', async () => {
    for (const failApply of [false, true]) {
      fs.rmSync(world, { force: true });
      const events: string[] = [];
      const p = places(events);
      const outcome = await runCommand(
        request('apply', {
          layers: layers(events, { failApply }),
          lock: { holder: 'run-1', timeoutSeconds: 1, places: p },
        }),
      );
      expect(outcome.ok).toBe(!failApply);
      if (!failApply) {
        // The marker is dropped once the seed's Lease is held; the Lease goes before the tunnel.
        expect(events).toEqual(['marker released', 'lease released', 'tunnel closed']);
        expect(p.lease.log).toEqual(['acquire run-1', 'release run-1']);
      } else {
        expect(outcome.failureReason).toBe('apply-failed');
        expect(events).toEqual(['marker released', 'tunnel closed']);
      }
      expect(p.marker.state).toBeUndefined();
      expect(p.lease.state).toBeUndefined();
    }
  });

  it('takes no lock for read-only commands, and reports plan-failed when a plan fails', async () => {
    const events: string[] = [];
    const p = places(events);
    const ok = await runCommand(
      request('plan', { layers: layers(events), lock: { holder: 'x', timeoutSeconds: 1, places: p } }),
    );
    expect(ok.ok).toBe(true);
    expect(p.marker.log).toEqual([]);
    const failing = await runCommand(
      request('plan', {
        layers: () => [
          {
            name: 'seed-infra',
            observe: () => Promise.reject(new Error('Keystone is down')),
            diff: () => ({ changes: [] }),
            apply: async () => {},
          },
        ],
      }),
    );
    expect(failing.failureReason).toBe('plan-failed');
  });

  it('refuses an apply whose fresh plan differs from the approved hash, changing nothing', async () => {
    const preview = await runCommand(request('apply', { layers: layers([]) }), { preview: true });
    expect(preview.plan?.changes.map((c) => `${c.action} ${c.address}`)).toEqual(['create flavor']);
    writeEnv('m1.large');
    const outcome = await runCommand(request('apply', { layers: layers([]) }), { expectedHash: preview.plan!.hash });
    expect(outcome.failureReason).toBe('plan-changed');
    expect(fs.existsSync(world)).toBe(false);
  });

  it('previews destroy as the plan that destroy carries out', async () => {
    fs.writeFileSync(world, JSON.stringify({ flavor: '{"name":"m1.small"}' }));
    const preview = await runCommand(request('destroy', { layers: layers([]) }), { preview: true });
    expect(preview.plan?.changes.map((c) => `${c.action} ${c.address}`)).toEqual(['delete flavor']);
    const done = await runCommand(request('destroy', { layers: layers([]) }), { expectedHash: preview.plan!.hash });
    expect(done.ok).toBe(true);
    expect(JSON.parse(fs.readFileSync(world, 'utf8'))).toEqual({});
  });

  it('releases a lock that a cancelled run left: the seed Lease, then the marker', async () => {
    fs.writeFileSync(world, JSON.stringify({ flavor: '{"name":"m1.small"}' }));
    const events: string[] = [];
    const p = places(events);
    await p.lease.tryAcquire('https://run/7', 600);
    await p.marker.tryAcquire('https://run/7', 600);
    const opened = openSession(request('plan', { layers: layers(events) }));
    if (!opened.ok) throw new Error('environment should be valid');
    const released = await opened.session.releaseLeftoverLock('https://run/7', p);
    await opened.session.close();
    expect(released).toEqual(['lease', 'marker']);
    expect(events).toEqual(['lease released', 'marker released', 'tunnel closed']);
    expect(p.lease.state).toBeUndefined();
    expect(p.marker.state).toBeUndefined();
  });
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('CLI confirmation', () => {
  /** Runs `apply` without --yes; `answer` is called once the question is asked and returns what is typed. */
  async function apply(answer: () => string, events: string[] = [], p = places(events)) {
    const stdin = new PassThrough();
    const stdout = new Capture();
    const stderr = new Capture();
    const asked = new Writable({
      write(chunk: Buffer, _e, done) {
        stderr.text += chunk.toString();
        if (chunk.toString().includes('Type "yes"')) stdin.write(`${answer()}\n`);
        done();
      },
    });
    const code = await main({
      argv: ['apply', '--env', 'env', '--environments-dir', path.join(dir, 'envs')],
      env: {},
      stdin,
      stdout,
      stderr: asked,
      stdinIsTty: true,
      layers: layers(events),
      lock: { places: p, pollMs: 1 },
    });
    return { code, out: stdout.text, err: stderr.text, places: p };
  }

  it('applies exactly the plan it showed, under the same lock as the action', async () => {
    const r = await apply(() => 'yes');
    expect(r.err).toMatch(/create.*flavor/);
    expect(r.code).toBe(EXIT.ok);
    expect(JSON.parse(fs.readFileSync(world, 'utf8'))).toEqual({ flavor: '{"name":"m1.small"}' });
    expect(r.places.marker.log[0]).toMatch(/^acquire .*\(capi-mgmt CLI, pid \d+\)$/);
    expect(r.places.lease.state).toBeUndefined();
  });

  it('refuses, changing nothing, when the environment changed before the "yes"', async () => {
    const r = await apply(() => {
      writeEnv('m1.large');
      return 'yes';
    });
    expect(r.code).toBe(EXIT.failed);
    expect(r.err).toContain('the plan changed since you confirmed it');
    expect(fs.existsSync(world)).toBe(false);
  });

  it('changes nothing on any answer but "yes"', async () => {
    const r = await apply(() => 'y');
    expect(r.code).toBe(EXIT.failed);
    expect(r.err).toContain('cancelled; nothing was changed');
    expect(fs.existsSync(world)).toBe(false);
  });
});
