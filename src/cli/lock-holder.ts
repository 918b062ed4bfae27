/**
 * Who holds the lock from a terminal, and whether such a holder is gone:
 * a CLI run killed on this machine (kill -9, a closed laptop lid) would
 * otherwise keep everyone waiting until its lock expires.
 */
import os from 'node:os';

const PATTERN = /^(.+)@(.+) \(capi-mgmt CLI, pid (\d+)\)$/;

export const cliHolder = (): string => `${os.userInfo().username}@${os.hostname()} (capi-mgmt CLI, pid ${process.pid})`;

/** True only for a CLI holder on this host whose process no longer exists. */
export function abandonedHere(s: { holder: string }): boolean {
  const m = PATTERN.exec(s.holder);
  if (!m || m[2] !== os.hostname()) return false;
  try {
    process.kill(Number(m[3]), 0);
    return false;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
