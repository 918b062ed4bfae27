/** The job summary: written for every command, from redacted data only. */
import { formatIssue } from '../config/errors.js';
import { renderMarkdown } from '../plan/render.js';
import type { RunOutcome } from '../session/outcome.js';
import type { ActionSettings } from './inputs.js';

export function summaryMarkdown(s: ActionSettings, outcome: RunOutcome, extra: string[] = []): string {
  const title = `## capi-mgmt ${s.command}: ${s.environment}`;
  const lines: string[] = [title, ''];
  if (outcome.failureReason === 'invalid-config') {
    lines.push(
      `:x: The environment is invalid (${outcome.configError.issues.length} problem(s)):`,
      '',
      '```text',
      ...outcome.configError.issues.map((i) => formatIssue(i, process.env.GITHUB_WORKSPACE ?? process.cwd())),
      '```',
    );
  } else if (!outcome.ok) {
    lines.push(`:x: **${outcome.failureReason}**: ${outcome.error.message}`, '');
  } else if (s.command === 'validate') {
    lines.push(`:white_check_mark: The environment is valid (${outcome.loaded?.files.length ?? 0} file(s)).`);
  } else if (s.command === 'drift') {
    const applied = outcome.applied?.length ?? 0;
    lines.push(
      !outcome.changes
        ? ':white_check_mark: No drift: the environment matches its desired state.'
        : applied > 0
          ? `:wrench: Drift found and reconciled (${applied} change(s) applied).`
          : ':warning: **Drift found**: the environment no longer matches its desired state.',
    );
  } else if (s.command === 'restore') {
    lines.push(`:white_check_mark: Restored backup \`${s.backup}\`.`);
  }
  if (outcome.plan) {
    lines.push('', renderMarkdown(outcome.plan, { limit: 900_000 }));
    if (outcome.applied && outcome.applied.length > 0) {
      lines.push('', `Applied ${outcome.applied.length} change(s).`);
    }
  }
  lines.push(...extra);
  // Sections each start with a blank line; collapse the runs that makes.
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n')}\n`;
}
