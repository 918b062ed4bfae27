/**
 * The PR plan comment: one per environment, found by its hidden marker
 * among the token user's own comments, edited in place as the plan moves
 * from planned to applied (or failed, or plan-changed).
 */
import { renderMarkdown } from '../plan/render.js';
import type { Plan } from '../plan/plan.js';
import { whoAmI, type GitHubApi, type IssueComment } from './api.js';
import {
  readPlanBlock,
  readPlanMarker,
  replaceMarker,
  saltedPlanHash,
  writeMarker,
  writePlanBlock,
  type ApprovedPlan,
  type PlanMarker,
  type PlanStatus,
} from './marker.js';

/** GitHub refuses comments over 65,536 characters; leave room for the frame. */
const COMMENT_LIMIT = 60_000;
const PLAN_BLOCK_BUDGET = 16_000;
const STATUS_SENTINEL = '<!-- capi-mgmt-status -->';

function statusLine(status: PlanStatus, runUrl: string, detail?: string): string {
  const run = `[workflow run](${runUrl})`;
  const why = detail ? `: ${oneLine(detail)}` : '';
  switch (status) {
    case 'planned':
      return `:memo: Plan generated in ${run}. Merging applies it only if the plan is still the same.`;
    case 'applying':
      return `:orange_circle: Applying this plan in ${run}.`;
    case 'applied':
      return `:white_check_mark: Plan applied in ${run}.`;
    case 'failed':
      return `:x: Failed in ${run}${why}`;
    case 'plan-changed':
      return `:x: Plan not applied in ${run}: the plan has changed since it was approved${why ? ` (${oneLine(detail!)})` : ''}.`;
  }
}

/** Error text in a status line: one line, bounded, no Markdown breakage. */
const oneLine = (s: string): string => {
  const flat = s.replace(/\s+/g, ' ').replace(/[<>]/g, '').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
};

export interface PlanCommentInput {
  environment: string;
  issueUrl: string;
  runUrl: string;
  status: PlanStatus;
  plan?: Plan;
  /** Why there is no plan (config invalid, observe failed); already redacted. */
  error?: string;
}

export function renderPlanComment(i: PlanCommentInput): string {
  const marker: PlanMarker = {
    environment: i.environment,
    planHash: i.plan ? saltedPlanHash(i.issueUrl, i.plan.hash) : '',
    status: i.status,
  };
  const title = `### capi-mgmt plan for \`${i.environment}\``;
  const status = `${STATUS_SENTINEL}\n${statusLine(i.status, i.runUrl, i.error)}\n`;
  if (!i.plan) {
    return [writeMarker(marker), title, '', 'No plan could be made.', '', status].join('\n');
  }
  const block = writePlanBlock(i.plan, PLAN_BLOCK_BUDGET);
  const frame = writeMarker(marker).length + title.length + block.length + status.length + 16;
  const markdown = renderMarkdown(i.plan, { limit: COMMENT_LIMIT - frame });
  return [writeMarker(marker), title, '', markdown, block, status].join('\n');
}

/** Change only the status (and the marker's status), keeping the plan as approved. */
export function withStatus(body: string, status: PlanStatus, runUrl: string, detail?: string): string {
  const marker = readPlanMarker(body);
  const at = body.indexOf(STATUS_SENTINEL);
  const head = at === -1 ? `${body.trimEnd()}\n` : body.slice(0, at);
  const next = `${head}${STATUS_SENTINEL}\n${statusLine(status, runUrl, detail)}\n`;
  return marker ? replaceMarker(next, { ...marker, status }) : next;
}

export interface FoundComment {
  comment: IssueComment;
  marker: PlanMarker;
}

/**
 * Our comment for this environment: the newest one whose marker matches and
 * whose author is the token's own user, so nobody else can plant an approval.
 */
export async function findPlanComment(
  api: GitHubApi,
  issue: number,
  environment: string,
): Promise<FoundComment | undefined> {
  const me = await whoAmI(api);
  const ours = (await api.listIssueComments(issue))
    .filter((c) => c.author === me)
    .map((comment) => ({ comment, marker: readPlanMarker(comment.body) }))
    .filter((f): f is FoundComment => f.marker?.environment === environment);
  return ours.sort((a, b) => a.comment.id - b.comment.id).at(-1);
}

/** Create or update the environment's plan comment; returns its id. */
export async function upsertPlanComment(
  api: GitHubApi,
  issue: number,
  body: string,
  environment: string,
): Promise<number> {
  const found = await findPlanComment(api, issue, environment);
  if (found) {
    await api.updateIssueComment(found.comment.id, body);
    return found.comment.id;
  }
  return (await api.createIssueComment(issue, body)).id;
}

/**
 * The approval a comment carries, checked against this PR: the salted hash
 * in the marker must match the plan block's hash salted with this PR's URL.
 */
export function approvalOf(found: FoundComment, issueUrl: string): ApprovedPlan | { error: string } {
  const block = readPlanBlock(found.comment.body);
  if (!block || found.marker.planHash === '') return { error: 'the plan comment holds no approved plan' };
  if (saltedPlanHash(issueUrl, block.hash) !== found.marker.planHash) {
    return { error: 'the plan comment was not made for this pull request' };
  }
  return block;
}
