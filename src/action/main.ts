/**
 * The GitHub face: inputs in, engine run, outputs, summary and failure out.
 * It holds no deployment logic of its own.
 */
import * as core from '@actions/core';
import { renderJson } from '../plan/render.js';
import { runCommand, type RunOutcome } from '../run.js';
import type { LayerFactory } from '../layers/index.js';
import { getSettings, InputError, type ActionSettings } from './inputs.js';
import { ActionLogger } from './logger.js';
import { markMainStarted } from './state.js';
import { summaryMarkdown } from './summary.js';

export async function run(deps: { layers?: LayerFactory } = {}): Promise<void> {
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
  if ((settings.command === 'restore' || settings.command === 'destroy') && settings.confirm !== settings.environment) {
    core.setOutput('failure-reason', 'usage');
    core.setFailed(
      `${settings.command} needs input confirm to equal the environment name "${settings.environment}"; nothing was changed`,
    );
    return;
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
      layers: deps.layers,
      onLoaded: (l) => log.setRedactor(l.redactor),
    });
  } catch (e) {
    core.setOutput('failure-reason', 'apply-failed');
    core.setFailed(`capi-mgmt ${settings.command} failed: ${(e as Error).message}`);
    return;
  }
  await report(settings, outcome);
}

async function report(s: ActionSettings, outcome: RunOutcome): Promise<void> {
  core.setOutput('changes', String(outcome.changes));
  core.setOutput('plan-hash', outcome.plan?.hash ?? '');
  core.setOutput('plan-json', outcome.plan ? renderJson(outcome.plan) : '');
  const reason = outcome.failureReason ?? (s.command === 'drift' && outcome.changes && !s.reconcile ? 'drift' : '');
  core.setOutput('failure-reason', reason);

  if (outcome.configError) {
    for (const i of outcome.configError.issues) {
      core.error(i.message, { file: relativeToWorkspace(i.file), startLine: i.line, startColumn: i.col });
    }
  }
  try {
    await core.summary.addRaw(summaryMarkdown(s, outcome)).write();
  } catch (e) {
    core.warning(`could not write the job summary: ${(e as Error).message}`);
  }
  if (outcome.configError) {
    core.setFailed(
      `environment ${s.environment} is invalid:\n${outcome.configError.format(process.env.GITHUB_WORKSPACE)}`,
    );
  } else if (!outcome.ok) {
    core.setFailed(`capi-mgmt ${s.command} failed (${outcome.failureReason}): ${outcome.error?.message ?? ''}`);
  } else if (reason === 'drift') {
    core.setFailed(`${s.environment} has drifted from its desired state (see the job summary)`);
  }
}

function relativeToWorkspace(file: string): string {
  const ws = process.env.GITHUB_WORKSPACE;
  return ws && file.startsWith(`${ws}/`) ? file.slice(ws.length + 1) : file;
}
