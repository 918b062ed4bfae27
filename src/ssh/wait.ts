/** Connect to a host that may still be booting: retry until it answers, with progress lines. */
import { waitFor } from '../util/wait.js';
import { connectSsh, SshKeyError, type SshConnectOptions, type SshSession } from './client.js';
import { HostKeyMismatchError } from './host-key.js';

export interface WaitForSshOptions {
  timeoutMs: number;
  intervalMs?: number;
  progressMs?: number;
  log?: (message: string) => void;
  /** Open the connection (tests swap in a fake); defaults to `connectSsh`. */
  connect?: (o: SshConnectOptions) => Promise<SshSession>;
}

/**
 * Errors that will not go away by waiting. Authentication failures are
 * retried: cloud-init may not have installed the key yet.
 */
function isPermanent(e: unknown): boolean {
  return e instanceof HostKeyMismatchError || e instanceof SshKeyError;
}

export async function waitForSsh(target: SshConnectOptions, o: WaitForSshOptions): Promise<SshSession> {
  const connect = o.connect ?? connectSsh;
  let last: string | undefined;
  const where = `${target.user}@${target.host}:${target.port}${target.jumpHost ? ` via ${target.jumpHost.host}:${target.jumpHost.port}` : ''}`;
  return waitFor<SshSession>({
    what: `SSH on ${where}`,
    timeoutMs: o.timeoutMs,
    intervalMs: o.intervalMs ?? 3000,
    progressMs: o.progressMs ?? 15_000,
    ...(o.log ? { log: o.log } : {}),
    status: () => last,
    check: async () => {
      try {
        return await connect({ ...target, readyTimeoutMs: Math.min(target.readyTimeoutMs ?? 20_000, o.timeoutMs) });
      } catch (e) {
        if (isPermanent(e)) throw e;
        last = (e as Error).message;
        return undefined;
      }
    },
  });
}
