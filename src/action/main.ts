/**
 * The GitHub face: inputs in, engine run, outputs, comment, summary and
 * failure out. Deployment logic lives in the engine; GitHub logic in
 * src/github; this file only puts them in order.
 */
import * as core from '@actions/core';
import { renderJson } from '../plan/render.js';
import { runCommand, type FailureReason, type RunOutcome } from '../run.js';
import { defaultLayers, type LayerFactory } from '../layers/index.js';
import type { GitHubApi } from '../github/api.js';
import { readRunContext, type GitHubRunContext } from '../github/context.js';
import { OctokitApi } from '../github/octokit-api.js';
import type { ArtifactUploader } from '../artifact/kubeconfig.js';
import { ActionsArtifactUploader } from '../artifact/actions-uploader.js';
import { lockedLayers, RunLock, type RunLockOptions } from '../lock/run-lock.js';
import { openStackLock, seedLease } from '../lock/backends.js';
import { getSettings, InputError, type ActionSettings } from './inputs.js';
import { ActionLogger } from './logger.js';
import { markMainStarted } from './state.js';
import { summaryMarkdown } from './summary.js';
import { afterRun, beforeApply, type Report } from './github-steps.js';
import { redactError } from '../util/redact.js';

export interface ActionDeps {
  layers?: LayerFactory;
  /** Where the lock lives and how often it is polled (tests use other places). */
  lock?: Partial<Pick<RunLockOptions, 'preSeed' | 'onSeed' | 'pollMs' | 'progressMs' | 'ttlSeconds'>>;
  uploader?: ArtifactUploader;
}

/** Commands that change things hold the environment's lock. */
const holdsLock = (s: ActionSettings): boolean =>
  s.command === 'apply' || s.command === 'restore' || s.command === 'destroy' || (s.command === 'drift' && s.reconcile);

export async function run(deps: ActionDeps = {}): Promise<void> {
  markMainStarted();
  let settings: ActionSettings;
  try {
    settings = getSettings();
  } catch (e) {
    core.setOutput('failure-reason', 'usage');
    core.setFailed(e instanceof InputError ? e.message : String(e));
    return;
  }
  const log = new ActionLogger();
  if (settings.cloudsYaml) core.setSecret(settings.cloudsYaml.split('\n')[0] ?? '');
  const gh = readRunContext();
  const api: GitHubApi | undefined = settings.githubToken
    ? new OctokitApi(settings.githubToken, { owner: gh.owner, repo: gh.repo })
    : undefined;
  const report: Report = { lines: [] };

  if ((settings.command === 'restore' || settings.command === 'destroy') && settings.confirm !== settings.environment) {
    return fail(
      settings,
      'usage',
      `${settings.command} needs input confirm to equal the environment name "${settings.environment}"; nothing was changed`,
    );
  }

  const approval = await beforeApply(settings, gh, api, report);
  if (approval === 'refused') {
    return fail(settings, 'plan-changed', report.refusal ?? 'no approved plan', report);
  }

  let lock: RunLock | undefined;
  const base = deps.layers ?? defaultLayers;
  if (holdsLock(settings)) {
    lock = new RunLock({
      holder: gh.runUrl,
      ttlSeconds: deps.lock?.ttlSeconds ?? 600,
      timeoutSeconds: settings.lockTimeoutSeconds,
      preSeed: deps.lock?.preSeed ?? openStackLock,
      onSeed: deps.lock?.onSeed ?? seedLease,
      pollMs: deps.lock?.pollMs,
      progressMs: deps.lock?.progressMs,
    });
  }

  let outcome: RunOutcome;
  try {
    outcome = await runCommand({
      command: settings.command,
      environment: settings.environment,
      environmentsDir: settings.environmentsDir,
      log,
      secrets: { sshPrivateKey: settings.sshPrivateKey },
      cloudsYamlOverride: settings.cloudsYaml,
      backup: settings.backup,
      reconcile: settings.reconcile,
      expectedHash: approval?.approved.hash,
      layers: lock ? (d) => lockedLayers(base(d), lock) : base,
      onLoaded: (l) => {
        l.redactor.add(settings.githubToken);
        log.setRedactor(l.redactor);
      },
    });
  } catch (e) {
    outcome = { ok: false, failureReason: 'apply-failed', error: redactError(e), changes: false };
  }
  if (lock?.history.length) report.lines.push(`Lock: held ${lock.history.join(', then ')} as ${gh.runUrl}.`);
  await afterRun({
    settings,
    gh,
    api,
    outcome,
    approval,
    report,
    log,
    uploader: deps.uploader ?? new ActionsArtifactUploader(),
  });
  await finish(settings, outcome, report);
}

async function fail(
  s: ActionSettings,
  reason: FailureReason,
  message: string,
  report: Report = { lines: [] },
): Promise<void> {
  core.setOutput('changes', 'false');
  core.setOutput('failure-reason', reason);
  await writeSummary(s, { ok: false, failureReason: reason, error: new Error(message), changes: false }, report);
  core.setFailed(message);
}

async function writeSummary(s: ActionSettings, outcome: RunOutcome, report: Report): Promise<void> {
  try {
    await core.summary.addRaw(summaryMarkdown(s, outcome, report.lines)).write();
  } catch (e) {
    core.warning(`could not write the job summary: ${(e as Error).message}`);
  }
}

async function finish(s: ActionSettings, outcome: RunOutcome, report: Report): Promise<void> {
  core.setOutput('changes', String(outcome.changes));
  core.setOutput('plan-hash', outcome.plan?.hash ?? '');
  core.setOutput('plan-json', outcome.plan ? renderJson(outcome.plan) : '');
  const drifted = s.command === 'drift' && outcome.ok && outcome.changes && !s.reconcile;
  const reason = outcome.failureReason ?? (drifted ? 'drift' : '');
  core.setOutput('failure-reason', reason);
  if (report.artifactId !== undefined) core.setOutput('kubeconfig-artifact-id', String(report.artifactId));

  if (outcome.configError) {
    for (const i of outcome.configError.issues) {
      core.error(i.message, { file: relativeToWorkspace(i.file), startLine: i.line, startColumn: i.col });
    }
  }
  await writeSummary(s, outcome, report);
  if (outcome.configError) {
    core.setFailed(
      `environment ${s.environment} is invalid:\n${outcome.configError.format(process.env.GITHUB_WORKSPACE)}`,
    );
  } else if (!outcome.ok) {
    core.setFailed(`capi-mgmt ${s.command} failed (${outcome.failureReason}): ${outcome.error?.message ?? ''}`);
  } else if (drifted) {
    core.setFailed(`${s.environment} has drifted from its desired state (see the job summary)`);
  }
}

function relativeToWorkspace(file: string): string {
  const ws = process.env.GITHUB_WORKSPACE;
  return ws && file.startsWith(`${ws}/`) ? file.slice(ws.length + 1) : file;
}

export type { GitHubRunContext };
