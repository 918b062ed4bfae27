/** A LayerContext for calling one layer directly, with earlier layers' outputs given up front. */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputStore, type OutputKey } from '../../src/engine/outputs.js';
import type { LayerContext } from '../../src/engine/types.js';
import type { Desired } from '../../src/model/desired.js';
import { Redactor } from '../../src/util/redact.js';
import { MemoryLogger } from './logger.js';

export interface GivenOutput<T> {
  key: OutputKey<T>;
  value: T;
}

/** Pairs a key with its record so a list of them stays type-checked. */
export const given = <T>(key: OutputKey<T>, value: T): GivenOutput<T> => ({ key, value });

export function layerContext(
  desired: Desired,
  outputs: ReadonlyArray<GivenOutput<unknown>> = [],
  extra: Partial<LayerContext> = {},
): LayerContext & { store: OutputStore; cleanups: Array<() => unknown> } {
  const store = new OutputStore();
  for (const o of outputs) store.set(o.key, o.value);
  const cleanups: Array<() => unknown> = [];
  return {
    desired,
    log: new MemoryLogger(),
    outputs: store,
    publish: (key, value) => store.set(key, value),
    redactor: new Redactor(),
    secrets: {},
    dirs: { temp: tmpdir(), toolCache: { kind: 'local', dir: join(tmpdir(), 'capi-mgmt-test-tools') } },
    onCleanup: (fn) => cleanups.push(fn),
    ...extra,
    store,
    cleanups,
  };
}
