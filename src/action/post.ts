/**
 * The post step: removes what main left behind, and after a cancelled or
 * killed run releases the lock main still held, so the next run need not
 * wait for it to expire. It only ever warns.
 */
import fs from 'node:fs';
import * as core from '@actions/core';
import type { LayerFactory } from '../layers/index.js';
import type { LockPlaces } from '../lock/run-lock.js';
import { openSession } from '../session/session.js';
import { redactError } from '../util/redact.js';
import { getSettings } from './inputs.js';
import { ActionLogger } from './logger.js';
import { runnerDirs } from './main.js';
import { getLockHolder, getTempPaths } from './state.js';

export interface PostDeps {
  layers?: LayerFactory;
  lockPlaces?: LockPlaces;
}

export async function post(deps: PostDeps = {}): Promise<void> {
  for (const p of getTempPaths()) {
    try {
      fs.rmSync(p, { force: true, recursive: true });
      core.debug(`removed ${p}`);
    } catch (e) {
      core.warning(`could not remove ${p}: ${redactError(e).message}`);
    }
  }
  const holder = getLockHolder();
  if (holder) await releaseLeftoverLock(holder, deps);
}

async function releaseLeftoverLock(holder: string, deps: PostDeps): Promise<void> {
  const settings = getSettings();
  const log = new ActionLogger();
  core.info(`main ended while holding the lock of ${settings.environment}; releasing it`);
  const opened = openSession({
    command: 'plan',
    environment: settings.environment,
    environmentsDir: settings.environmentsDir,
    log,
    dirs: runnerDirs(),
    secrets: { sshPrivateKey: settings.sshPrivateKey },
    extraSecrets: [settings.githubToken],
    cloudsYamlOverride: settings.cloudsYaml,
    layers: deps.layers,
    onLoaded: (l) => {
      for (const v of l.redactor.values()) core.setSecret(v);
      log.setRedactor(l.redactor);
    },
  });
  if (!opened.ok) return;
  try {
    const released = await opened.session.releaseLeftoverLock(holder, deps.lockPlaces);
    core.info(released.length ? `released ${released.join(' and ')}` : 'no lock place was reachable');
  } catch (e) {
    core.warning(`could not release the lock: ${redactError(e, opened.session.loaded.redactor).message}`);
  } finally {
    await opened.session.close();
  }
}
