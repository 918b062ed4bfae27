/** Data carried from the main step to the post step (never secrets). */
import * as core from '@actions/core';

const KEYS = { isPost: 'isPost', tempPaths: 'tempPaths' } as const;

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
