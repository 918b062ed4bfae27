/**
 * The action's entry for tests: src/action/index.ts with the test-only
 * layers (and quicker lock polling) handed to run(). Run it with tsx, or
 * bundle it with ncc to run it the way the runner runs dist/index.js.
 */
import * as core from '@actions/core';
import { run } from '../../src/action/main.js';
import { post } from '../../src/action/post.js';
import { isPost } from '../../src/action/state.js';
import { testLayers } from './test-layers.js';

if (isPost()) {
  post({ layers: testLayers }).catch((e: unknown) =>
    core.warning(`post step: ${e instanceof Error ? e.message : String(e)}`),
  );
} else {
  run({
    layers: testLayers,
    lock: {
      pollMs: Number(process.env.CAPI_MGMT_TEST_LOCK_POLL_MS ?? 500),
      progressMs: 1500,
      ttlSeconds: Number(process.env.CAPI_MGMT_TEST_LOCK_TTL ?? 60),
    },
  }).catch((e: unknown) => core.setFailed(e instanceof Error ? e.message : String(e)));
}
