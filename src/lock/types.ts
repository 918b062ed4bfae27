/**
 * A lock that keeps two runs from changing one environment at once. The
 * holder is the run's URL, so a waiting run can say who it waits for.
 */
export interface LockState {
  holder: string;
  /** When the holder stops renewing, others may take the lock after this. */
  expiresAt: Date;
}

export type AcquireResult = { ok: true } | { ok: false; current: LockState };

export interface LockBackend {
  /** Where the lock lives, for log lines ("Lease kube-system/capi-mgmt-prod on the seed"). */
  readonly description: string;
  /**
   * Take the lock for `holder` if it is free, expired, already ours, or
   * held by a run `abandoned` says is gone; otherwise report who holds it.
   * Must be atomic against other runs.
   */
  tryAcquire(holder: string, ttlSeconds: number, abandoned?: (s: LockState) => boolean): Promise<AcquireResult>;
  /** Push the expiry forward; only while we hold it. */
  renew(holder: string, ttlSeconds: number): Promise<void>;
  /** Give the lock up if we still hold it; never throws for "not ours". */
  release(holder: string): Promise<void>;
}

export class LockedError extends Error {
  /** run.ts maps this to the `locked` failure reason. */
  readonly failureReason = 'locked' as const;

  constructor(
    readonly where: string,
    readonly current: LockState | undefined,
    waitedSeconds: number,
  ) {
    super(
      `${where} is held by ${current?.holder ?? 'another run'}` +
        `${current ? ` until ${current.expiresAt.toISOString()}` : ''}; gave up after ${waitedSeconds} s (lock-timeout)`,
    );
    this.name = 'LockedError';
  }
}

export const isExpired = (s: LockState, now = new Date()): boolean => s.expiresAt.getTime() <= now.getTime();
