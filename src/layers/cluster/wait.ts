/**
 * Wait for the management cluster to be healthy: one progress line each
 * time its state changes, polling fast while things move and backing off
 * while they do not, and on timeout an error that lists everything still
 * not as it must be, with the controllers' reasons and messages.
 */
import { pendingOf, progressLine, type ClusterState, type Pending } from './health.js';
import { sleep } from '../../util/wait.js';

export interface WaitOptions {
  read: () => Promise<ClusterState>;
  timeoutMs: number;
  log: (line: string) => void;
  /** First poll interval, and the cap it backs off to (default 1 s, 10 s). */
  minIntervalMs?: number;
  maxIntervalMs?: number;
  /** Injected in tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export class ClusterWaitTimeout extends Error {
  constructor(
    readonly pending: Pending[],
    timeoutMs: number,
  ) {
    const lines = pending.map(
      (p) => `  - ${p.subject}: ${p.actual}, expected ${p.expected}${p.detail ? ` (${p.detail})` : ''}`,
    );
    super(`the management cluster was not ready after ${Math.round(timeoutMs / 60_000)} min:\n${lines.join('\n')}`);
    this.name = 'ClusterWaitTimeout';
  }
}

/** Resolves with the healthy state; read errors are retried until the deadline (the API may be restarting). */
export async function waitForCluster(o: WaitOptions): Promise<ClusterState> {
  const now = o.now ?? Date.now;
  const pause = o.sleep ?? sleep;
  const min = o.minIntervalMs ?? 1000;
  const max = o.maxIntervalMs ?? 10_000;
  const start = now();
  let interval = min;
  let lastLine = '';
  let lastPending: Pending[] = [];
  let lastError = '';
  for (;;) {
    let changed = false;
    try {
      const state = await o.read();
      lastError = '';
      const pending = pendingOf(state);
      const line = progressLine(state);
      if (line !== lastLine) {
        o.log(`cluster: ${line} (${Math.round((now() - start) / 1000)} s)`);
        lastLine = line;
        changed = true;
      }
      lastPending = pending;
      if (pending.length === 0) return state;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (message !== lastError) o.log(`cluster: cannot read the cluster's state yet: ${message}`);
      lastError = message;
    }
    if (now() - start >= o.timeoutMs) {
      throw new ClusterWaitTimeout(
        lastPending.length > 0
          ? lastPending
          : [{ subject: 'Cluster', expected: 'readable', actual: lastError || 'unknown' }],
        o.timeoutMs,
      );
    }
    interval = changed ? min : Math.min(max, Math.round(interval * 1.5));
    await pause(Math.min(interval, Math.max(0, o.timeoutMs - (now() - start))));
  }
}
