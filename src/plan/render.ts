/**
 * Renderers: terminal text, Markdown (PR comment, job summary) and JSON.
 * All take an already redacted Plan.
 */
import { stringify } from 'yaml';
import { hasChanges, type Change, type ChangeAction, type Plan } from './plan.js';

const SYMBOL: Record<ChangeAction, string> = {
  create: '+',
  update: '~',
  replace: '-/+',
  delete: '-',
  'no-op': ' ',
};

/** Column-0 markers so GitHub colours a ```diff block: green adds, red removals, changes marked `!`. */
const DIFF_MARK: Record<ChangeAction, string> = { create: '+', update: '!', replace: '!', delete: '-', 'no-op': ' ' };

/** GitHub rejects comments over 65,536 characters; stay well under. */
const MARKDOWN_LIMIT = 60_000;

export function summaryLine(plan: Plan): string {
  if (!hasChanges(plan)) return `No changes. ${plan.environment} matches its desired state.`;
  const c = plan.counts;
  const parts = [
    c.create && `${c.create} to create`,
    c.update && `${c.update} to update`,
    c.replace && `${c.replace} to replace`,
    c.delete && `${c.delete} to delete`,
  ].filter(Boolean);
  return `Plan for ${plan.environment}: ${parts.join(', ')}.`;
}

function detail(c: Change): string {
  const show = (v: unknown): string => (typeof v === 'string' ? v : stringify(v, { lineWidth: 0 }).trimEnd());
  const lines: string[] = [];
  if (c.reason) lines.push(`reason: ${c.reason}`);
  if (c.action === 'update' || c.action === 'replace') {
    if (c.before !== undefined) lines.push(`before:\n${indent(show(c.before))}`);
    if (c.after !== undefined) lines.push(`after:\n${indent(show(c.after))}`);
  } else if (c.action === 'create' && c.after !== undefined) {
    lines.push(indent(show(c.after), ''));
  } else if (c.action === 'delete' && c.before !== undefined) {
    lines.push(indent(show(c.before), ''));
  }
  return lines.join('\n');
}

const indent = (s: string, pad = '  '): string =>
  s
    .split('\n')
    .map((l) => pad + l)
    .join('\n');

function byLayer(plan: Plan): Map<string, Change[]> {
  const m = new Map<string, Change[]>();
  for (const l of plan.layers) m.set(l, []);
  for (const c of plan.changes) {
    const list = m.get(c.layer) ?? [];
    list.push(c);
    m.set(c.layer, list);
  }
  return m;
}

export function renderText(plan: Plan, opts: { verbose?: boolean } = {}): string {
  const out: string[] = [];
  for (const [layer, changes] of byLayer(plan)) {
    const real = changes.filter((c) => c.action !== 'no-op');
    out.push(`${layer}: ${real.length === 0 ? 'no changes' : `${real.length} change(s)`}`);
    for (const c of opts.verbose ? changes : real) {
      out.push(`  ${SYMBOL[c.action].padStart(3)} ${c.address}${c.reason ? `  (${c.reason})` : ''}`);
      if (opts.verbose && c.action !== 'no-op') {
        const d = detail(c);
        if (d) out.push(indent(d, '        '));
      }
    }
  }
  for (const n of plan.notes) out.push(`note: ${n}`);
  out.push('', summaryLine(plan), `plan hash: ${plan.hash.slice(0, 12)}`);
  return out.join('\n');
}

export function renderJson(plan: Plan): string {
  return JSON.stringify(plan, null, 2);
}

/**
 * Markdown: a summary line, then one collapsible section per layer. If the
 * whole would pass `limit`, sections are cut from the end with a note, so
 * the comment always posts.
 */
export function renderMarkdown(plan: Plan, opts: { limit?: number; header?: string } = {}): string {
  const limit = opts.limit ?? MARKDOWN_LIMIT;
  const head = [opts.header, `**${summaryLine(plan)}**`, ''].filter((s) => s !== undefined).join('\n');
  const notes = plan.notes.length ? `${plan.notes.map((n) => `> ${n}`).join('\n')}\n\n` : '';
  const footer = `\n<sub>plan hash \`${plan.hash.slice(0, 12)}\`</sub>\n`;
  const sections: string[] = [];
  for (const [layer, changes] of byLayer(plan)) {
    const real = changes.filter((c) => c.action !== 'no-op');
    const title = `${layer}: ${real.length === 0 ? 'no changes' : `${real.length} change(s)`}`;
    const body = real.length
      ? real
          .map((c) => {
            const d = detail(c);
            return `${DIFF_MARK[c.action]}${SYMBOL[c.action].padStart(3)} ${c.address}${d ? `\n${indent(d, `${DIFF_MARK[c.action]}      `)}` : ''}`;
          })
          .join('\n')
      : 'Nothing to do.';
    sections.push(
      `<details${real.length ? ' open' : ''}><summary>${escapeHtml(title)}</summary>\n\n\`\`\`diff\n${fence(body)}\n\`\`\`\n\n</details>\n`,
    );
  }
  let text = head + notes + sections.join('\n') + footer;
  if (text.length <= limit) return text;

  const note = (n: number): string =>
    `\n> Output cut to stay under ${limit} characters: ${n} section(s) not shown. The full plan is in the job log and the \`plan-json\` output.\n`;
  const kept: string[] = [];
  let size = head.length + notes.length + footer.length + note(sections.length).length;
  for (const s of sections) {
    if (size + s.length > limit) break;
    kept.push(s);
    size += s.length;
  }
  if (kept.length === 0 && sections[0] !== undefined) {
    const room = Math.max(0, limit - size - 40);
    kept.push(`${sections[0].slice(0, room)}\n\`\`\`\n\n</details>\n`);
  }
  text = head + notes + kept.join('\n') + note(sections.length - kept.length) + footer;
  return text;
}

/** A ``` inside a value must not end our code block. */
const fence = (s: string): string => s.replace(/```/g, '`\u200b``');
const escapeHtml = (s: string): string =>
  s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] ?? c);
