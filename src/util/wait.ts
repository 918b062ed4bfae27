/**
 * Polls until `check` returns a value, printing a progress line on long
 * waits. Polling starts fast and backs off up to `intervalMs`, so a short
 * wait ends soon after the thing waited for, and a long one does not hammer
 * the API: the time lost after the answer arrives is at most a quarter of
 * the time waited so far, or one `intervalMs`.
 */
export interface WaitOptions<T> {
  /** What we wait for, as a phrase: "server capi-mgmt-prod-seed to become ACTIVE". */
  what: string;
  check: () => Promise<T | undefined>;
  timeoutMs: number;
  /** The longest pause between two checks (default 2 s). */
  intervalMs?: number;
  /** The first pause (default 50 ms, or intervalMs when smaller); each next one is 1.25 times longer. */
  firstIntervalMs?: number;
  /** How often to report progress. */
  progressMs?: number;
  /** Describe the current state in progress lines ("status BUILD"). */
  status?: () => string | undefined;
  log?: (message: string) => void;
  signal?: AbortSignal;
}

export class WaitTimeoutError extends Error {
  constructor(what: string, ms: number, lastStatus?: string) {
    super(
      `timed out after ${Math.round(ms / 1000)} s waiting for ${what}${lastStatus ? ` (last seen: ${lastStatus})` : ''}`,
    );
    this.name = 'WaitTimeoutError';
  }
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      },
      { once: true },
    );
  });

const BACKOFF = 1.25;

/** Pauses that start at `first` and grow by a quarter each time, capped at `cap`. */
export function backoff(first: number, cap: number): () => number {
  let next = Math.min(first, cap);
  return () => {
    const now = next;
    next = Math.min(cap, next * BACKOFF);
    return now;
  };
}

export async function waitFor<T>(o: WaitOptions<T>): Promise<T> {
  const start = Date.now();
  const pause = backoff(o.firstIntervalMs ?? 50, o.intervalMs ?? 2000);
  const progressEvery = o.progressMs ?? 15_000;
  let nextProgress = start + progressEvery;
  for (;;) {
    const v = await o.check();
    if (v !== undefined) return v;
    const now = Date.now();
    if (now - start >= o.timeoutMs) throw new WaitTimeoutError(o.what, now - start, o.status?.());
    if (now >= nextProgress) {
      const s = o.status?.();
      o.log?.(`still waiting for ${o.what} (${Math.round((now - start) / 1000)} s${s ? `, ${s}` : ''})`);
      nextProgress = now + progressEvery;
    }
    await sleep(Math.min(pause(), Math.max(0, o.timeoutMs - (now - start))), o.signal);
  }
}
