/**
 * A unified diff of the approved plan against the fresh one, shown when
 * apply refuses a changed plan (as dflook prints one).
 */
import { renderText } from '../plan/render.js';
import type { Plan } from '../plan/plan.js';
import type { ApprovedPlan } from './marker.js';

type Op = { kind: ' ' | '-' | '+'; line: string };

/** Line operations from a longest-common-subsequence table; plans are small. */
function diffLines(a: string[], b: string[]): Op[] {
  if (a.length * b.length > 4_000_000) {
    return [...a.map((line) => ({ kind: '-' as const, line })), ...b.map((line) => ({ kind: '+' as const, line }))];
  }
  const lcs: Uint32Array[] = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i]! });
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) ops.push({ kind: '-', line: a[i++]! });
    else ops.push({ kind: '+', line: b[j++]! });
  }
  while (i < a.length) ops.push({ kind: '-', line: a[i++]! });
  while (j < b.length) ops.push({ kind: '+', line: b[j++]! });
  return ops;
}

export function unifiedDiff(a: string, b: string, names: [string, string], context = 3): string {
  const ops = diffLines(a.split('\n'), b.split('\n'));
  const out = [`--- ${names[0]}`, `+++ ${names[1]}`];
  let k = 0;
  while (k < ops.length) {
    if (ops[k]!.kind === ' ') {
      k++;
      continue;
    }
    // A hunk: `context` lines around each run of changes, merged when close.
    const start = Math.max(0, k - context);
    let end = k;
    while (end < ops.length) {
      if (ops[end]!.kind !== ' ') {
        end++;
        continue;
      }
      let next = end;
      while (next < ops.length && ops[next]!.kind === ' ') next++;
      if (next === ops.length || next - end > 2 * context) break;
      end = next;
    }
    end = Math.min(ops.length, end + context);
    const lineNo = (upTo: number, side: '-' | '+'): number =>
      ops.slice(0, upTo).filter((o) => o.kind === ' ' || o.kind === side).length;
    const hunk = ops.slice(start, end);
    const aLen = hunk.filter((o) => o.kind !== '+').length;
    const bLen = hunk.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${lineNo(start, '-') + 1},${aLen} +${lineNo(start, '+') + 1},${bLen} @@`);
    for (const o of hunk) out.push(`${o.kind}${o.line}`);
    k = end;
  }
  return out.join('\n');
}

/** The diff text for a refused apply, saying when the approved side is incomplete. */
export function planChangeDiff(approved: ApprovedPlan, current: Plan): string {
  const real = (p: Plan): Plan => ({ ...p, changes: p.changes.filter((c) => c.action !== 'no-op') });
  const realCurrent = real(current);
  if (!approved.plan) {
    return `The approved plan was too large to keep in the PR comment; only its hash (${approved.hash.slice(0, 12)}) is known.\n\n${renderText(realCurrent, { verbose: true })}`;
  }
  const note =
    approved.trimmed === 'before-values' ? '(the approved plan was kept without observed "before" values)\n' : '';
  const strip = (p: Plan): Plan =>
    approved.trimmed === 'before-values' ? { ...p, changes: p.changes.map(({ before: _b, ...c }) => c) } : p;
  return (
    note +
    unifiedDiff(
      renderText(strip(real(approved.plan)), { verbose: true }),
      renderText(strip(realCurrent), { verbose: true }),
      [`approved plan ${approved.hash.slice(0, 12)}`, `current plan ${current.hash.slice(0, 12)}`],
    )
  );
}
