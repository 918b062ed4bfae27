/**
 * One issue per environment while it has drifted: opened (or updated) when
 * a drift run finds changes, closed when a run finds none. Found by its
 * marker among open issues created by the token's own user.
 */
import { renderMarkdown } from '../plan/render.js';
import { hasChanges, type Plan } from '../plan/plan.js';
import { whoAmI, type GitHubApi, type Issue } from './api.js';
import { readDriftMarker, writeMarker } from './marker.js';

export type DriftIssueResult = { action: 'opened' | 'updated' | 'closed'; number: number } | { action: 'none' };

async function findDriftIssue(api: GitHubApi, environment: string): Promise<Issue | undefined> {
  const me = await whoAmI(api);
  return (await api.listOpenIssues(me))
    .filter((i) => i.author === me && readDriftMarker(i.body)?.environment === environment)
    .sort((a, b) => a.number - b.number)
    .at(-1);
}

function driftIssueBody(environment: string, plan: Plan, runUrl: string, reconciled: boolean): string {
  return [
    writeMarker({ environment, kind: 'drift' }),
    `The environment \`${environment}\` no longer matches its desired state (found by [this drift check](${runUrl})).`,
    reconciled ? '\nThe run reconciled it; the next check closes this issue if it stays clean.' : '',
    '',
    renderMarkdown(plan, { limit: 50_000 }),
  ].join('\n');
}

export async function syncDriftIssue(
  api: GitHubApi,
  o: { environment: string; plan: Plan; runUrl: string; reconciled: boolean },
): Promise<DriftIssueResult> {
  const open = await findDriftIssue(api, o.environment);
  if (hasChanges(o.plan)) {
    const body = driftIssueBody(o.environment, o.plan, o.runUrl, o.reconciled);
    if (open) {
      await api.updateIssue(open.number, { body });
      return { action: 'updated', number: open.number };
    }
    const created = await api.createIssue(`capi-mgmt: ${o.environment} has drifted`, body);
    return { action: 'opened', number: created.number };
  }
  if (!open) return { action: 'none' };
  const body = `${open.body.trimEnd()}\n\n---\n:white_check_mark: No drift any more ([drift check](${o.runUrl})).\n`;
  await api.updateIssue(open.number, { body, state: 'closed' });
  return { action: 'closed', number: open.number };
}
