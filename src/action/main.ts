/**
 * The GitHub face: inputs in, a run session, outputs, comment, summary and
 * failure out. Deployment logic lives in the engine, policy in the session,
 * GitHub logic in src/github; this file only puts them in order. The
 * environment is loaded and checked before anything talks to GitHub or a
 * cloud.
 */
import os from 'node:os';
import * as core from '@actions/core';
import type { RunDirs } from '../engine/types.js';
import { renderJson } from '../plan/render.js';
import type { LayerFactory } from '../layers/index.js';
import type { GitHubApi } from '../github/api.js';
import { readRunContext } from '../github/context.js';
import { OctokitApi } from '../github/octokit-api.js';
import type { ArtifactUploader } from '../artifact/kubeconfig.js';
import { ActionsArtifactUploader } from '../artifact/actions-uploader.js';
import { failedBeforeRun, type FailureReason, type RunOutcome } from '../session/outcome.js';
import { commandPolicy } from '../session/policy.js';
import { closeOnSignals, openSession, type LockRequest } from '../session/session.js';
import { toolCacheFromEnv } from '../tools/index.js';
import { redactError } from '../util/redact.js';
import { getSettings, InputError, type ActionSettings } from './inputs.js';
import { ActionLogger } from './logger.js';
import { markMainStarted, saveLockHolder } from './state.js';
import { summaryMarkdown } from './summary.js';
import { afterRun, beforeApply, type Report } from './github-steps.js';

export interface ActionDeps {
  layers?: LayerFactory;
  /** Where the lock lives and how often it is polled (tests use other places). */
  lock?: Partial<Pick<LockRequest, 'places' | 'pollMs' | 'progressMs' | 'ttlSeconds'>>;
  uploader?: ArtifactUploader;
}

/** The runner's directories; off a runner (local tests), the OS temp dir and our own cache. */
export function runnerDirs(env: NodeJS.ProcessEnv = process.env): RunDirs {
  return { temp: env.RUNNER_TEMP || os.tmpdir(), toolCache: toolCacheFromEnv(env) };
}

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
  const gh = readRunContext();
  const report: Report = { lines: [] };
  const policy = commandPolicy(settings.command, { reconcile: settings.reconcile });
  if (policy.destructive && settings.confirm !== settings.environment) {
    return fail(
      settings,
      'usage',
      `${settings.command} needs input confirm to equal the environment name "${settings.environment}"; nothing was changed`,
    );
  }

  const dirs = runnerDirs();
  const opened = openSession({
    command: settings.command,
    environment: settings.environment,
    environmentsDir: settings.environmentsDir,
    log,
    dirs,
    secrets: { sshPrivateKey: settings.sshPrivateKey },
    extraSecrets: [settings.githubToken],
    cloudsYamlOverride: settings.cloudsYaml,
    reconcile: settings.reconcile,
    layers: deps.layers,
    lock: {
      holder: gh.runUrl,
      timeoutSeconds: settings.lockTimeoutSeconds,
      ...deps.lock,
      // The post step releases a lock that a cancelled run could not.
      onHeldChange: (held) => saveLockHolder(held ? gh.runUrl : undefined),
    },
    onLoaded: (l) => {
      // Each secret value as written, never a whole input (whose lines would blank unrelated log text).
      for (const v of l.redactor.values()) core.setSecret(v);
      log.setRedactor(l.redactor);
    },
  });
  const api: GitHubApi | undefined = settings.githubToken
    ? new OctokitApi(settings.githubToken, { owner: gh.owner, repo: gh.repo })
    : undefined;
  if (!opened.ok) {
    // Whatever the command and event: annotations, and on a PR the errors in the comment.
    await afterRun({
      settings,
      gh,
      api,
      outcome: opened.outcome,
      approval: undefined,
      report,
      log,
      uploader: noUpload,
      tempDir: dirs.temp,
    });
    return finish(settings, opened.outcome, report);
  }
  const session = opened.session;

  let outcome: RunOutcome;
  const stop = closeOnSignals(() => session.close(), log);
  try {
    const approval = await beforeApply(settings, gh, api, report);
    if (approval === 'refused') {
      return await fail(settings, 'plan-changed', report.refusal ?? 'no approved plan', report);
    }
    try {
      outcome = await session.run({ backup: settings.backup, expectedHash: approval?.approved.hash });
    } catch (e) {
      outcome = failedBeforeRun('apply-failed', redactError(e, session.loaded.redactor).message);
    }
    await session.close();
    if (session.lockHistory.length) {
      report.lines.push(`Lock: held ${session.lockHistory.join(', then ')} as ${gh.runUrl}.`);
    }
    await afterRun({
      settings,
      gh,
      api,
      outcome,
      approval,
      report,
      log,
      uploader: deps.uploader ?? new ActionsArtifactUploader(),
      tempDir: dirs.temp,
    });
  } finally {
    await session.close();
    stop();
  }
  await finish(settings, outcome, report);
}

const noUpload: ArtifactUploader = {
  uploadFile: () => Promise.reject(new Error('nothing is uploaded for an invalid environment')),
};

async function fail(
  s: ActionSettings,
  reason: Exclude<FailureReason, 'invalid-config' | 'drift'>,
  message: string,
  report: Report = { lines: [] },
): Promise<void> {
  core.setOutput('changes', 'false');
  core.setOutput('failure-reason', reason);
  await writeSummary(s, failedBeforeRun(reason, message), report);
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
  const reason: FailureReason | '' = outcome.failureReason ?? (drifted ? 'drift' : '');
  core.setOutput('failure-reason', reason);
  if (report.artifactId !== undefined) core.setOutput('kubeconfig-artifact-id', String(report.artifactId));

  if (outcome.failureReason === 'invalid-config') {
    for (const i of outcome.configError.issues) {
      core.error(i.message, { file: relativeToWorkspace(i.file), startLine: i.line, startColumn: i.col });
    }
  }
  await writeSummary(s, outcome, report);
  if (outcome.failureReason === 'invalid-config') {
    core.setFailed(
      `environment ${s.environment} is invalid:\n${outcome.configError.format(process.env.GITHUB_WORKSPACE)}`,
    );
  } else if (!outcome.ok) {
    const hint = outcome.missingSecret === 'sshPrivateKey' ? ' (set input ssh-private-key)' : '';
    core.setFailed(`capi-mgmt ${s.command} failed (${outcome.failureReason}): ${outcome.error.message}${hint}`);
  } else if (drifted) {
    core.setFailed(`${s.environment} has drifted from its desired state (see the job summary)`);
  }
}

function relativeToWorkspace(file: string): string {
  const ws = process.env.GITHUB_WORKSPACE;
  return ws && file.startsWith(`${ws}/`) ? file.slice(ws.length + 1) : file;
}
