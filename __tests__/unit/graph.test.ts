/** runGraph: dependencies respected, the bound held, independent tasks overlap, failures stop new starts. */
import { describe, expect, it } from 'vitest';
import { forEachLimited, runGraph, type GraphTask } from '../../src/util/graph.js';
import { backoff } from '../../src/util/wait.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** Tasks that record when they start and end, and how many run at once. */
function recorder() {
  const events: string[] = [];
  let running = 0;
  let most = 0;
  const task = (id: string, after: string[] = [], fail = false): GraphTask => ({
    id,
    after,
    run: async () => {
      events.push(`start ${id}`);
      most = Math.max(most, ++running);
      await tick();
      running--;
      events.push(`end ${id}`);
      if (fail) throw new Error(`${id} failed`);
    },
  });
  return { events, task, most: () => most };
}

describe('runGraph', () => {
  it('starts independent tasks together and a dependent one only after all it needs', async () => {
    const r = recorder();
    await runGraph(
      [r.task('subnet', ['network']), r.task('network'), r.task('group'), r.task('server', ['subnet', 'group'])],
      {
        limit: 8,
      },
    );
    const at = (e: string) => r.events.indexOf(e);
    // network and group overlap: both start before either ends
    expect(Math.max(at('start network'), at('start group'))).toBeLessThan(Math.min(at('end network'), at('end group')));
    expect(at('start subnet')).toBeGreaterThan(at('end network'));
    expect(at('start server')).toBeGreaterThan(Math.max(at('end subnet'), at('end group')));
    expect(r.most()).toBe(2);
  });

  it('never runs more than the limit at once, and limit 1 is the list order', async () => {
    const wide = recorder();
    await runGraph(
      ['a', 'b', 'c', 'd', 'e'].map((id) => wide.task(id)),
      { limit: 2 },
    );
    expect(wide.most()).toBe(2);

    const one = recorder();
    await runGraph([one.task('a'), one.task('b'), one.task('c', ['a'])], { limit: 1 });
    expect(one.events).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('treats a dependency outside the run as done', async () => {
    const r = recorder();
    await runGraph([r.task('server', ['keypair'])], { limit: 4 });
    expect(r.events).toEqual(['start server', 'end server']);
  });

  it('after a failure starts nothing new, lets running tasks finish, throws the first error and reports the others', async () => {
    const r = recorder();
    const others: string[] = [];
    const run = runGraph(
      [r.task('a', [], true), r.task('b', [], true), r.task('c', ['a']), r.task('d', ['b']), r.task('e', ['a', 'b'])],
      { limit: 4, onOtherError: (e) => others.push((e as Error).message) },
    );
    await expect(run).rejects.toThrow('a failed');
    expect(others).toEqual(['b failed']);
    expect(r.events).toEqual(['start a', 'start b', 'end a', 'end b']);
  });

  it('refuses a cycle instead of hanging', async () => {
    const r = recorder();
    await expect(runGraph([r.task('a', ['b']), r.task('b', ['a'])], { limit: 2 })).rejects.toThrow(/cycle: a, b/);
  });

  it('forEachLimited runs every item under the bound', async () => {
    const seen: number[] = [];
    let running = 0;
    let most = 0;
    await forEachLimited([1, 2, 3, 4, 5], 3, async (n) => {
      most = Math.max(most, ++running);
      await tick();
      running--;
      seen.push(n);
    });
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5]);
    expect(most).toBe(3);
  });
});

describe('backoff', () => {
  it('starts at the first pause, grows by a quarter and stops at the cap', () => {
    const next = backoff(100, 200);
    expect([next(), next(), next(), next(), next()]).toEqual([100, 125, 156.25, 195.3125, 200]);
    expect(backoff(500, 200)()).toBe(200);
  });
});
