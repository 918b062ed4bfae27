/** Waits for a lock with progress lines, then keeps it renewed until released. */
import { waitFor, WaitTimeoutError } from '../util/wait.js';
import { LockedError, type LockBackend, type LockState } from './types.js';

export interface AcquireOptions {
  holder: string;
  /** How long the lock lives without renewal (a crashed run frees it after this). */
  ttlSeconds: number;
  /** How long to wait for another holder; 0 means try once. */
  timeoutSeconds: number;
  log: (message: string) => void;
  pollMs?: number;
  progressMs?: number;
  /** Whether a holder is known to be gone before its lock expires (a killed CLI on this machine). */
  abandoned?: (s: LockState) => boolean;
}

export interface HeldLock {
  readonly description: string;
  release(): Promise<void>;
}

export async function acquireLock(backend: LockBackend, o: AcquireOptions): Promise<HeldLock> {
  let current: LockState | undefined;
  const start = Date.now();
  try {
    await waitFor({
      what: `the lock (${backend.description})`,
      timeoutMs: o.timeoutSeconds * 1000,
      // A steady pace: the holder is another run, which takes minutes, not a status that settles soon.
      intervalMs: o.pollMs ?? 5000,
      firstIntervalMs: o.pollMs ?? 5000,
      progressMs: o.progressMs ?? 30_000,
      log: o.log,
      status: () => (current ? `held by ${current.holder} until ${current.expiresAt.toISOString()}` : undefined),
      check: async () => {
        const r = await backend.tryAcquire(o.holder, o.ttlSeconds, o.abandoned);
        if (r.ok) return true;
        if (current?.holder !== r.current.holder)
          o.log(`${backend.description} is held by ${r.current.holder}; waiting`);
        current = r.current;
        return undefined;
      },
    });
  } catch (e) {
    if (e instanceof WaitTimeoutError)
      throw new LockedError(backend.description, current, Math.round((Date.now() - start) / 1000));
    throw e;
  }
  o.log(`took ${backend.description}`);
  return hold(backend, o);
}

/** Renew at a third of the lifetime so one missed renewal does not lose the lock. */
function hold(backend: LockBackend, o: AcquireOptions): HeldLock {
  let renewing: Promise<void> = Promise.resolve();
  const timer = setInterval(
    () => {
      renewing = backend
        .renew(o.holder, o.ttlSeconds)
        .catch((e: unknown) => o.log(`could not renew ${backend.description}: ${(e as Error).message}`));
    },
    Math.max(1000, (o.ttlSeconds * 1000) / 3),
  );
  timer.unref();
  let released = false;
  return {
    description: backend.description,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await renewing;
      await backend.release(o.holder);
      o.log(`released ${backend.description}`);
    },
  };
}
