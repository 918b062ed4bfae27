/**
 * One bundle serves both `main` and `post` (as actions/checkout does): the
 * runner exposes the state saved by main only to the post step.
 */
import * as core from '@actions/core';
import { run } from './main.js';
import { post } from './post.js';
import { isPost } from './state.js';
import { redactError } from '../util/redact.js';

if (isPost()) {
  post().catch((e: unknown) => core.warning(`post step: ${redactError(e).message}`));
} else {
  run().catch((e: unknown) => core.setFailed(redactError(e).message));
}
