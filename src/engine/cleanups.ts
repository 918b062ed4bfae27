/**
 * What a run must undo when it ends (tunnels, SSH sessions, temporary
 * files), and the one place where a failing close step is caught and
 * reported: close steps only ever warn.
 */
export type CleanupFn = () => Promise<void> | void;

/** Runs one close step; a failure becomes a warning, never an exception. */
async function closeStep(what: string, fn: CleanupFn, warn: (message: string) => void): Promise<void> {
  try {
    await fn();
  } catch (e) {
    warn(`${what} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export class Cleanups {
  private readonly fns: CleanupFn[] = [];

  add(fn: CleanupFn): void {
    this.fns.push(fn);
  }

  /** Last registered first (a tunnel closes before the session it runs in); each runs once. */
  async run(warn: (message: string) => void): Promise<void> {
    while (this.fns.length > 0) await closeStep('cleanup', this.fns.pop()!, warn);
  }
}
