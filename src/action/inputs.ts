/**
 * Reads and checks every action input in one place, into typed settings.
 * Secrets are read here and nowhere else, and never logged.
 */
import path from 'node:path';
import * as core from '@actions/core';
import { COMMANDS, type Command } from '../engine/engine.js';

export interface ActionSettings {
  command: Command;
  environment: string;
  /** Absolute path, inside the workspace. */
  environmentsDir: string;
  cloudsYaml?: string;
  sshPrivateKey?: string;
  githubToken?: string;
  autoApprove: boolean;
  reconcile: boolean;
  driftIssue: boolean;
  backup: string;
  confirm?: string;
  lockTimeoutSeconds: number;
}

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

function bool(name: string): boolean {
  const v = core.getInput(name).trim().toLowerCase();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  throw new InputError(`input ${name}: expected true or false, found "${v}"`);
}

function optional(name: string): string | undefined {
  const v = core.getInput(name);
  return v === '' ? undefined : v;
}

export function getSettings(env: NodeJS.ProcessEnv = process.env): ActionSettings {
  const command = core.getInput('command', { required: true }).trim();
  if (!COMMANDS.includes(command as Command)) {
    throw new InputError(`input command: expected one of ${COMMANDS.join(', ')}, found "${command}"`);
  }
  const environment = core.getInput('environment', { required: true }).trim();
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(environment)) {
    throw new InputError(`input environment: expected a lower-case name (a-z, 0-9, -), found "${environment}"`);
  }
  const workspace = env.GITHUB_WORKSPACE ?? process.cwd();
  const dirInput = core.getInput('environments-dir') || 'environments';
  const environmentsDir = path.resolve(workspace, dirInput);
  const rel = path.relative(workspace, environmentsDir);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new InputError(`input environments-dir: expected a path inside the workspace, found "${dirInput}"`);
  }
  const lockTimeout = Number(core.getInput('lock-timeout') || '900');
  if (!Number.isInteger(lockTimeout) || lockTimeout < 0) {
    throw new InputError(
      `input lock-timeout: expected a whole number of seconds, found "${core.getInput('lock-timeout')}"`,
    );
  }
  const settings: ActionSettings = {
    command: command as Command,
    environment,
    environmentsDir,
    cloudsYaml: optional('clouds-yaml'),
    sshPrivateKey: optional('ssh-private-key'),
    githubToken: optional('github-token'),
    autoApprove: bool('auto-approve'),
    reconcile: bool('reconcile'),
    driftIssue: bool('drift-issue'),
    backup: core.getInput('backup').trim() || 'latest',
    confirm: optional('confirm'),
    lockTimeoutSeconds: lockTimeout,
  };
  core.debug(
    `settings: ${JSON.stringify({ ...settings, cloudsYaml: settings.cloudsYaml && '(set)', sshPrivateKey: settings.sshPrivateKey && '(set)', githubToken: settings.githubToken && '(set)' })}`,
  );
  return settings;
}
