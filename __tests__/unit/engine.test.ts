import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Engine, NoRestoreError, PlanChangedError } from '../../src/engine/engine.js';
import { outputKey } from '../../src/engine/outputs.js';
import type { AnyLayer } from '../../src/engine/types.js';
import { Redactor } from '../../src/util/redact.js';
import { fileLayer, type World } from '../helpers/memory-layer.js';
import { MemoryLogger } from '../helpers/logger.js';
import { testDesired } from '../helpers/desired.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const read = (f: string): World => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as World;

const netOutputs = outputKey<{ networkId: string }>('test-net');

function twoLayers(opts: { failAfterWrites?: number; restored?: string[] } = {}) {
  const infra = fileLayer({
    name: 'seed-infra',
    file: path.join(dir, 'infra.json'),
    want: (d) => ({ [`server/${d.seedName}`]: 'm1.large', 'network/net': '192.168.100.0/24' }),
    outputs: netOutputs,
    publish: (ctx, w) => {
      if (w['network/net']) ctx.publish(netOutputs, { networkId: 'net-1' });
    },
  });
  const k3s = fileLayer({
    name: 'seed-k3s',
    file: path.join(dir, 'k3s.json'),
    want: (d) => ({ k3s: d.config.versions.k3s }),
    requires: (ctx) => ctx.outputs.get(netOutputs) !== undefined,
    failAfterWrites: opts.failAfterWrites,
    restored: opts.restored,
  });
  return [infra, k3s];
}

const engine = (layers: readonly AnyLayer[], log = new MemoryLogger(), name = 'test') =>
  new Engine({ desired: testDesired(name), layers, log, redactor: new Redactor() });

describe('Engine', () => {
  it('plans creates for every layer when nothing exists, without writing', async () => {
    const layers = twoLayers();
    const plan = await engine(layers).plan();
    expect(plan.counts).toMatchObject({ create: 3, update: 0, delete: 0 });
    expect(plan.changes.map((c) => `${c.layer}:${c.address}`)).toEqual([
      'seed-infra:network/net',
      'seed-infra:server/capi-mgmt-test-seed',
      'seed-k3s:k3s',
    ]);
    expect(fs.existsSync(path.join(dir, 'infra.json'))).toBe(false);
  });

  it('applies layer by layer, handing outputs on, then plans no changes', async () => {
    const layers = twoLayers();
    const r = await engine(layers).apply();
    expect(r.applied).toHaveLength(3);
    expect(read('k3s.json')).toEqual({ k3s: 'v1.34.8+k3s1' });
    const again = await engine(twoLayers()).plan();
    expect(again.counts.create + again.counts.update + again.counts.delete).toBe(0);
    expect(again.counts['no-op']).toBe(3);
  });

  it('refuses to apply when the plan differs from the approved hash, and changes nothing', async () => {
    const approved = await engine(twoLayers()).plan();
    fs.writeFileSync(path.join(dir, 'infra.json'), JSON.stringify({ 'network/net': '10.0.0.0/8' }));
    const e = engine(twoLayers());
    await expect(e.apply({ expectedHash: approved.hash })).rejects.toBeInstanceOf(PlanChangedError);
    expect(read('infra.json')).toEqual({ 'network/net': '10.0.0.0/8' });
  });

  it('converges on a re-run after a crash half-way through', async () => {
    await expect(engine(twoLayers({ failAfterWrites: 0 })).apply()).rejects.toThrow(/simulated crash/);
    expect(read('infra.json')).toHaveProperty('network/net');
    const second = await engine(twoLayers()).apply();
    expect(second.applied.map((c) => c.address)).toEqual(['k3s']);
  });

  it('drift reports changes and only reconciles when asked', async () => {
    await engine(twoLayers()).apply();
    fs.writeFileSync(path.join(dir, 'k3s.json'), JSON.stringify({ k3s: 'v1.0.0+k3s1' }));
    const d = await engine(twoLayers()).drift();
    expect(d.plan.counts.update).toBe(1);
    expect(d.applied).toEqual([]);
    const fixed = await engine(twoLayers()).drift({ reconcile: true });
    expect(fixed.applied.map((c) => c.address)).toEqual(['k3s']);
    expect(read('k3s.json')).toEqual({ k3s: 'v1.34.8+k3s1' });
  });

  it('destroys in reverse layer order', async () => {
    await engine(twoLayers()).apply();
    const log = new MemoryLogger();
    const r = await engine(twoLayers(), log).destroy();
    expect(r.applied.map((c) => c.layer)).toEqual(['seed-k3s', 'seed-infra', 'seed-infra']);
    expect(log.lines.filter((l) => l.startsWith('== destroy'))).toEqual([
      '== destroy seed-k3s',
      '== destroy seed-infra',
    ]);
    expect(read('infra.json')).toEqual({});
  });

  it('destroy does not observe the layers after the last one that removes anything', async () => {
    await engine(twoLayers()).apply();
    let observed = 0;
    const onTheSeed: AnyLayer = {
      name: 'seed-capi',
      observe: () => Promise.resolve(void observed++),
      diff: () => ({ changes: [] }),
      apply: () => Promise.resolve(),
    };
    const r = await engine([...twoLayers(), onTheSeed]).destroy();
    expect(observed).toBe(0);
    expect(r.applied.map((c) => c.layer)).toEqual(['seed-k3s', 'seed-infra', 'seed-infra']);
    // plan still observes every layer
    await engine([...twoLayers(), onTheSeed]).plan();
    expect(observed).toBe(1);
  });

  it('restore refuses before changing anything when no layer can restore', async () => {
    const layers = twoLayers().map((l) => ({ ...l, restore: undefined }));
    const err = await new Engine({ desired: testDesired(), layers, log: new MemoryLogger(), redactor: new Redactor() })
      .restore('latest')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoRestoreError);
    expect((err as Error).message).toMatch(
      /no layer in this run can restore a backup \(layers: seed-infra, seed-k3s\)/,
    );
    expect(fs.existsSync(path.join(dir, 'infra.json'))).toBe(false);
  });

  it('keeps one output record per layer: only its owner writes it, and a new observe clears it', async () => {
    const [infra, k3s] = twoLayers();
    const e = engine([infra!, k3s!]);
    await e.apply();
    expect(e.outputs.get(netOutputs)).toEqual({ networkId: 'net-1' });
    // The network disappears: the next observe must not hand on the old record.
    fs.writeFileSync(path.join(dir, 'infra.json'), '{}');
    await e.plan();
    expect(e.outputs.get(netOutputs)).toBeUndefined();
    const thief = fileLayer({
      name: 'seed-capi',
      file: path.join(dir, 'capi.json'),
      want: () => ({}),
      publish: (ctx) => ctx.publish(netOutputs, { networkId: 'stolen' }),
    });
    await expect(engine([infra!, thief]).plan()).rejects.toThrow(
      'layer seed-capi tried to publish test-net, which it does not declare as its outputs',
    );
  });

  it('restore converges first, then hands the backup name to restoring layers', async () => {
    const restored: string[] = [];
    await engine(twoLayers({ restored })).restore('daily-20261124');
    expect(restored).toEqual(['daily-20261124']);
    expect(read('k3s.json')).toHaveProperty('k3s');
  });

  it('runs cleanups once, in reverse, and survives a failing one', async () => {
    const log = new MemoryLogger();
    const e = engine(twoLayers(), log);
    const order: string[] = [];
    const layer = twoLayers()[0]!;
    const origObserve = layer.observe.bind(layer);
    layer.observe = async (ctx) => {
      ctx.onCleanup(() => void order.push('first'));
      ctx.onCleanup(() => {
        throw new Error('boom');
      });
      ctx.onCleanup(() => void order.push('third'));
      return origObserve(ctx);
    };
    const e2 = new Engine({ desired: testDesired(), layers: [layer], log, redactor: new Redactor() });
    await e2.plan();
    await e2.close();
    await e2.close();
    expect(order).toEqual(['third', 'first']);
    expect(log.lines).toContain('warning: cleanup failed: boom');
    await e.close();
  });
});
