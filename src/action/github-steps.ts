/**
 * The GitHub steps around the engine run: the approval check before an
 * apply, and after any run the PR comment, its status, the drift issue and
 * the kubeconfig artifact. Each step reports a line for the job summary.
 */
import * as core from '@actions/core';
import type { RunOutcome } from '../session/outcome.js';
import { commandPolicy } from '../session/policy.js';
import type { GitHubApi } from '../github/api.js';
import type { GitHubRunContext } from '../github/context.js';
import { findApproval, publishPlan, setCommentStatus, syncDriftIssue } from '../github/flows.js';
import type { ApprovedPlan } from '../github/marker.js';
import { planChangeDiff } from '../github/plan-diff.js';
import { publishKubeconfig, type ArtifactUploader } from '../artifact/kubeconfig.js';
import type { ActionSettings } from './inputs.js';
import type { ActionLogger } from './logger.js';
import { addTempPath } from './state.js';
import { clusterOutputs } from '../layers/cluster/outputs.js';
import { seedK3sOutputs } from '../layers/seed-k3s/outputs.js';

export interface Report {
  /** Markdown lines appended to the job summary. */
  lines: string[];
  refusal?: string;
  artifactId?: number;
}

export interface ApprovedApply {
  approved: ApprovedPlan;
  commentId: number;
  /** The comment body as last written (status applying). */
  body: string;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** apply: find the plan approved on the merged PR and mark it applying; 'refused' stops the run. */
export async function beforeApply(
  s: ActionSettings,
  gh: GitHubRunContext,
  api: GitHubApi | undefined,
  report: Report,
): Promise<ApprovedApply | 'refused' | undefined> {
  if (s.command !== 'apply') return undefined;
  if (s.autoApprove) {
    report.lines.push('', '`auto-approve: true`: the plan was applied without checking a pull request approval.');
    return undefined;
  }
  const refuse = (reason: string): 'refused' => {
    report.refusal = `not applying: ${reason}`;
    report.lines.push('', `:x: ${report.refusal}`);
    return 'refused';
  };
  if (!api)
    return refuse('input github-token is empty, so the approved plan cannot be read (or set auto-approve: true)');
  try {
    const a = await findApproval(api, gh, s.environment);
    if (!a.ok) {
      if (a.comment && a.body)
        await setCommentStatus(api, gh, { commentId: a.comment.commentId, body: a.body }, 'plan-changed', a.reason);
      return refuse(a.reason);
    }
    const body = await setCommentStatus(api, gh, { commentId: a.comment.commentId, body: a.body }, 'applying');
    report.lines.push(
      '',
      `Approved plan: pull request #${a.comment.issue}, plan hash \`${a.approved.hash.slice(0, 12)}\`.`,
    );
    return { approved: a.approved, commentId: a.comment.commentId, body };
  } catch (e) {
    return refuse(`could not read the approval from GitHub: ${message(e)}`);
  }
}

export interface AfterRun {
  settings: ActionSettings;
  gh: GitHubRunContext;
  api: GitHubApi | undefined;
  outcome: RunOutcome;
  approval: ApprovedApply | undefined;
  report: Report;
  log: ActionLogger;
  uploader: ArtifactUploader;
  /** Where the ciphertext file is written (the runner's temp dir). */
  tempDir: string;
}

export async function afterRun(a: AfterRun): Promise<void> {
  guardSecrets(a.outcome);
  await planComment(a);
  await applyStatus(a);
  await driftIssue(a);
  await kubeconfigArtifact(a);
}

/** Kubeconfigs the layers produced are secrets from here on, in every line we print. */
function guardSecrets(o: RunOutcome): void {
  const r = o.loaded?.redactor;
  if (!r) return;
  for (const doc of [o.outputs?.get(clusterOutputs)?.kubeconfig, o.outputs?.get(seedK3sOutputs)?.kubeconfig])
    if (doc) r.addDocument(doc);
  for (const v of r.values()) core.setSecret(v);
}

function failureText(o: RunOutcome): string | undefined {
  if (o.failureReason === 'invalid-config') {
    return `the environment is invalid (${o.configError.issues.length} problem(s)); see the job log`;
  }
  return o.ok ? undefined : o.error.message;
}

async function planComment({ settings: s, gh, api, outcome, report }: AfterRun): Promise<void> {
  if (s.command !== 'plan' || !gh.pullRequest) return;
  if (!api) {
    report.lines.push('', 'No PR comment: input github-token is empty.');
    return;
  }
  try {
    const ref = await publishPlan(api, gh, gh.pullRequest, {
      environment: s.environment,
      plan: outcome.plan,
      error: failureText(outcome),
    });
    report.lines.push('', `Plan comment on pull request #${ref.issue} updated (comment ${ref.commentId}).`);
  } catch (e) {
    core.warning(`could not write the PR comment: ${message(e)}`);
  }
}

async function applyStatus({ settings: s, gh, api, outcome, approval, report }: AfterRun): Promise<void> {
  if (!approval || !api) return;
  if (outcome.failureReason === 'plan-changed' && outcome.plan) {
    const diff = planChangeDiff(approval.approved, outcome.plan);
    await core.group('the plan changed since it was approved (approved -> current)', async () => core.info(diff));
    report.lines.push('', 'The plan changed since it was approved (approved → current):', '', '```diff', diff, '```');
  }
  const changed = outcome.failureReason === 'plan-changed';
  const status = outcome.ok ? 'applied' : changed ? 'plan-changed' : 'failed';
  const detail = changed
    ? `approved ${approval.approved.hash.slice(0, 12)}, now ${outcome.plan?.hash.slice(0, 12) ?? 'unknown'}; the run shows the difference`
    : failureText(outcome);
  try {
    await setCommentStatus(api, gh, { commentId: approval.commentId, body: approval.body }, status, detail);
  } catch (e) {
    core.warning(`could not update the PR comment of ${s.environment}: ${message(e)}`);
  }
}

async function driftIssue({ settings: s, gh, api, outcome, report }: AfterRun): Promise<void> {
  if (s.command !== 'drift' || !s.driftIssue || !outcome.ok || !outcome.plan) return;
  if (!api) {
    report.lines.push('', 'No drift issue: input github-token is empty.');
    return;
  }
  try {
    const r = await syncDriftIssue(api, {
      environment: s.environment,
      plan: outcome.plan,
      runUrl: gh.runUrl,
      reconciled: s.reconcile && (outcome.applied?.length ?? 0) > 0,
    });
    if (r.action !== 'none') report.lines.push('', `Drift issue #${r.number} ${r.action}.`);
  } catch (e) {
    core.warning(`could not update the drift issue: ${message(e)}`);
  }
}

async function kubeconfigArtifact({ settings: s, outcome, report, uploader, tempDir }: AfterRun): Promise<void> {
  const { producesKubeconfig } = commandPolicy(s.command, { reconcile: s.reconcile });
  const kubeconfig = outcome.outputs?.get(clusterOutputs)?.kubeconfig;
  if (!producesKubeconfig || !outcome.ok || !kubeconfig) return;
  const { ageRecipients, retentionDays } = outcome.loaded.desired.config.kubeconfig;
  if (ageRecipients.length === 0) {
    report.lines.push('', 'No kubeconfig artifact: `kubeconfig.ageRecipients` is empty.');
    return;
  }
  try {
    const p = await publishKubeconfig({
      environment: s.environment,
      kubeconfig,
      recipients: ageRecipients,
      retentionDays,
      uploader,
      tempDir,
      onTempPath: addTempPath,
    });
    report.artifactId = p.id;
    report.lines.push(
      '',
      `Kubeconfig artifact \`${p.name}\` (id ${p.id}, age-encrypted to ${ageRecipients.length} recipient(s), kept ${retentionDays} day(s)).`,
      `Open it with \`capi-mgmt decrypt-kubeconfig --identity key.txt --in ${p.name} --out kubeconfig\`.`,
    );
  } catch (e) {
    core.warning(`could not upload the kubeconfig artifact: ${message(e)}`);
  }
}
