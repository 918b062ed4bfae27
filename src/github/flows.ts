/**
 * The GitHub side of each command, written against GitHubApi: the plan
 * comment on a PR, the approval an apply must match, the comment's status
 * while applying, the drift issue. Returns what happened for the summary.
 */
import type { Plan } from '../plan/plan.js';
import type { GitHubApi, MergedPull } from './api.js';
import type { GitHubRunContext, PullRequestRef } from './context.js';
import { approvalOf, findPlanComment, renderPlanComment, upsertPlanComment, withStatus } from './plan-comment.js';
import type { ApprovedPlan, PlanStatus } from './marker.js';

export interface CommentRef {
  issue: number;
  commentId: number;
}

/** plan on a pull request: write (or refresh) the environment's comment. */
export async function publishPlan(
  api: GitHubApi,
  gh: GitHubRunContext,
  pr: PullRequestRef,
  o: { environment: string; plan?: Plan; error?: string },
): Promise<CommentRef> {
  const body = renderPlanComment({
    environment: o.environment,
    issueUrl: pr.issueUrl,
    runUrl: gh.runUrl,
    status: o.plan ? 'planned' : 'failed',
    plan: o.plan,
    error: o.error,
  });
  return { issue: pr.number, commentId: await upsertPlanComment(api, pr.number, body, o.environment) };
}

/** The PR a push commit came from: the one merged as this commit, else any merged one. */
export async function mergedPullFor(api: GitHubApi, sha: string): Promise<MergedPull | undefined> {
  const pulls = (await api.pullsForCommit(sha)).filter((p) => p.merged);
  return pulls.find((p) => p.mergeCommitSha === sha) ?? pulls[0];
}

export type Approval =
  | { ok: true; approved: ApprovedPlan; comment: CommentRef; body: string }
  | { ok: false; reason: string; comment?: CommentRef; body?: string };

/**
 * What apply may do: the plan approved on the PR this commit came from.
 * No PR, no comment, or a comment not made for this PR all refuse, like a
 * changed plan does (dflook's "plan not found" is plan-changed too).
 */
export async function findApproval(api: GitHubApi, gh: GitHubRunContext, environment: string): Promise<Approval> {
  let pr: PullRequestRef | undefined = gh.pullRequest;
  if (!pr) {
    const merged = gh.sha ? await mergedPullFor(api, gh.sha) : undefined;
    if (merged) pr = { number: merged.number, issueUrl: merged.issueUrl };
  }
  if (!pr) {
    return {
      ok: false,
      reason: `no merged pull request found for commit ${gh.sha.slice(0, 12)}; plan it in a pull request, or set auto-approve: true`,
    };
  }
  const found = await findPlanComment(api, pr.number, environment);
  if (!found) {
    return {
      ok: false,
      reason: `pull request #${pr.number} has no capi-mgmt plan comment for ${environment}; was the plan job run on it?`,
    };
  }
  const comment = { issue: pr.number, commentId: found.comment.id };
  const approval = approvalOf(found, pr.issueUrl);
  if ('error' in approval)
    return { ok: false, reason: `pull request #${pr.number}: ${approval.error}`, comment, body: found.comment.body };
  if (approval.environment !== environment) {
    return { ok: false, reason: `the approved plan is for ${approval.environment}`, comment, body: found.comment.body };
  }
  return { ok: true, approved: approval, comment, body: found.comment.body };
}

/** Move the comment to a new status; the approved plan in it stays as it was. */
export async function setCommentStatus(
  api: GitHubApi,
  gh: GitHubRunContext,
  ref: { commentId: number; body: string },
  status: PlanStatus,
  detail?: string,
): Promise<string> {
  const body = withStatus(ref.body, status, gh.runUrl, detail);
  await api.updateIssueComment(ref.commentId, body);
  return body;
}

export { syncDriftIssue } from './drift-issue.js';
