/**
 * Runs tasks along their dependencies: each starts as soon as every task it
 * comes after has finished, with at most `limit` running at once. The order
 * of the list breaks ties (an earlier task starts first), so a run with
 * `limit: 1` is the plain sequential walk of the list.
 *
 * On the first failure nothing new starts; the tasks already running are
 * allowed to finish (a half-sent request is worse than a finished one), then
 * the first error is thrown. Later errors go to `onOtherError`.
 */
export interface GraphTask {
  readonly id: string;
  /** Ids of tasks that must finish first; ids not in the run count as done. */
  readonly after: readonly string[];
  run(): Promise<void>;
}

export interface GraphOptions {
  /** Most tasks running at once (at least 1). */
  limit: number;
  onOtherError?: (e: unknown) => void;
}

export async function runGraph(tasks: readonly GraphTask[], o: GraphOptions): Promise<void> {
  const ids = new Set(tasks.map((t) => t.id));
  if (ids.size !== tasks.length) throw new Error('runGraph: task ids must be unique');
  const limit = Math.max(1, Math.floor(o.limit));
  const pending = [...tasks];
  const done = new Set<string>();
  const running = new Map<string, Promise<void>>();
  let failure: { error: unknown } | undefined;

  const ready = (t: GraphTask) => t.after.every((d) => done.has(d) || !ids.has(d));
  const start = () => {
    while (!failure && running.size < limit) {
      const i = pending.findIndex(ready);
      if (i < 0) return;
      const [t] = pending.splice(i, 1);
      const p = Promise.resolve()
        .then(() => t!.run())
        .then(
          () => void done.add(t!.id),
          (e: unknown) => {
            if (failure) o.onOtherError?.(e);
            else failure = { error: e };
          },
        )
        .finally(() => running.delete(t!.id));
      running.set(t!.id, p);
    }
  };

  start();
  while (running.size > 0) {
    await Promise.race(running.values());
    start();
  }
  if (failure) throw failure.error;
  if (pending.length > 0) {
    throw new Error(`runGraph: tasks wait on each other in a cycle: ${pending.map((t) => t.id).join(', ')}`);
  }
}

/** `fn` over every item, at most `limit` at once; fails like runGraph. */
export function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
  onOtherError?: (e: unknown) => void,
): Promise<void> {
  return runGraph(
    items.map((item, i) => ({ id: String(i), after: [], run: () => fn(item) })),
    { limit, onOtherError },
  );
}
