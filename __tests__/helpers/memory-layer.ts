/**
 * A test-only layer whose "world" is a JSON file: observe reads it, apply
 * writes it. It lets engine tests run every command for real, including
 * crashes half-way through an apply.
 */
import fs from 'node:fs';
import type { Desired } from '../../src/model/desired.js';
import type { Change } from '../../src/plan/plan.js';
import type { Layer, LayerContext, LayerDiff } from '../../src/engine/types.js';
import type { OutputKey } from '../../src/engine/outputs.js';

export type World = Record<string, string>;

export interface FileLayerOptions {
  name: string;
  file: string;
  /** What should exist: key -> value. */
  want: (d: Desired) => World;
  /** Throw after this many writes (to simulate a killed run). */
  failAfterWrites?: number;
  /** The outputs key this layer declares. */
  outputs?: OutputKey<unknown>;
  /** Outputs to publish once the layer's items exist. */
  publish?: (ctx: LayerContext, world: World) => void;
  /** Outputs this layer needs from an earlier one; without them observe sees nothing. */
  requires?: (ctx: LayerContext) => boolean;
  restored?: string[];
}

export function fileLayer(o: FileLayerOptions): Layer<World, unknown> & { writes: number } {
  const read = (): World => (fs.existsSync(o.file) ? (JSON.parse(fs.readFileSync(o.file, 'utf8')) as World) : {});
  const layer = {
    name: o.name,
    ...(o.outputs ? { outputs: o.outputs } : {}),
    writes: 0,
    async observe(ctx: LayerContext): Promise<World> {
      if (o.requires && !o.requires(ctx)) return {};
      const w = read();
      o.publish?.(ctx, w);
      return w;
    },
    diff(desired: Desired, observed: World): LayerDiff {
      const want = o.want(desired);
      const changes: Change[] = [];
      for (const [k, v] of Object.entries(want)) {
        const cur = observed[k];
        if (cur === undefined) changes.push({ layer: o.name, address: k, action: 'create', after: v });
        else if (cur !== v) changes.push({ layer: o.name, address: k, action: 'update', before: cur, after: v });
        else changes.push({ layer: o.name, address: k, action: 'no-op', before: cur, after: v });
      }
      for (const k of Object.keys(observed)) {
        if (!(k in want)) changes.push({ layer: o.name, address: k, action: 'delete', before: observed[k] });
      }
      return { changes };
    },
    diffDestroy(_d: Desired, observed: World): LayerDiff {
      return {
        changes: Object.entries(observed).map(([k, v]) => ({ layer: o.name, address: k, action: 'delete', before: v })),
      };
    },
    async apply(changes: readonly Change[], _obs: World, ctx: LayerContext): Promise<void> {
      for (const c of changes) {
        if (o.failAfterWrites !== undefined && layer.writes >= o.failAfterWrites) {
          throw new Error(`simulated crash in ${o.name} before ${c.address}`);
        }
        const w = read();
        if (c.action === 'delete') delete w[c.address];
        else w[c.address] = String(c.after);
        fs.writeFileSync(o.file, JSON.stringify(w));
        layer.writes++;
      }
      o.publish?.(ctx, read());
    },
    async restore(backup: string): Promise<void> {
      o.restored?.push(backup);
    },
  };
  return layer;
}
