/** Data carried from the main step to the post step (never secrets). */
import * as core from '@actions/core';

const KEYS = { isPost: 'isPost', tempPaths: 'tempPaths', lockHolder: 'lockHolder' } as const;

/** The runner exposes saved state to the post step only, as STATE_<key>. */
export const isPost = (): boolean => core.getState(KEYS.isPost) === 'true';

export function markMainStarted(): void {
  core.saveState(KEYS.isPost, 'true');
}

const pending: string[] = [];

/** Files the post step must delete (e.g. the 0600 plain kubeconfig). */
export function addTempPath(p: string): void {
  pending.push(p);
  core.saveState(KEYS.tempPaths, JSON.stringify(pending));
}

export function getTempPaths(): string[] {
  const raw = core.getState(KEYS.tempPaths);
  try {
    return raw ? (JSON.parse(raw) as string[]) : [];
  } catch {
    return [];
  }
}

/** Who holds the environment's lock while main runs; empty once released. The last value saved wins. */
export function saveLockHolder(holder: string | undefined): void {
  core.saveState(KEYS.lockHolder, holder ?? '');
}

/** Set only when main ended (cancelled, killed) while still holding the lock. */
export function getLockHolder(): string | undefined {
  return core.getState(KEYS.lockHolder) || undefined;
}
