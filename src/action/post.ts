/** The post step: removes what main left behind. It only ever warns. */
import fs from 'node:fs';
import * as core from '@actions/core';
import { getTempPaths } from './state.js';
import { redactError } from '../util/redact.js';

export async function post(): Promise<void> {
  for (const p of getTempPaths()) {
    try {
      fs.rmSync(p, { force: true, recursive: true });
      core.debug(`removed ${p}`);
    } catch (e) {
      core.warning(`could not remove ${p}: ${redactError(e).message}`);
    }
  }
}
