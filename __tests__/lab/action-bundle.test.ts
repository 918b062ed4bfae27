/**
 * The action bundled with ncc, as dist/index.js is, run by node the way
 * the runner runs it (main, then post): the test entry (the production
 * src/action code plus test-only layers) is bundled once into a temp dir.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decryptWith } from '../../src/artifact/age.js';
import { readPlanMarker } from '../../src/github/marker.js';
import { lockName } from '../../src/lock/backends.js';
import { makeFixture, pullRequestEvent, pushEvent, scanForSecrets, type Fixture } from '../helpers/action-fixture.js';
import { labKube, labSeedKubeconfigPath } from '../helpers/action-lab.js';
import { repoRoot, tsxEntry } from '../helpers/action-runner.js';

const environment = `gb-${randomBytes(3).toString('hex')}`;
let f: Fixture;
let outDir: string;
let bundle: string;

beforeAll(async () => {
  outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'capi-bundle-'));
  execFileSync(path.join(repoRoot, 'node_modules/.bin/ncc'), ['build', tsxEntry, '-o', outDir, '--minify', '--quiet'], {
    cwd: repoRoot,
    stdio: 'inherit',
  });
  bundle = path.join(outDir, 'index.js');
  f = await makeFixture({ environment, seedKubeconfig: labSeedKubeconfigPath() });
});

// The stand-ins record every call they refuse or cannot route: there must be none.
afterEach(() => {
  if (f) expect(f.unexpectedCalls()).toEqual([]);
});

afterAll(async () => {
  await labKube().request({
    method: 'DELETE',
    path: `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${lockName(environment)}`,
  });
  await f?.close();
  if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
});

describe('the bundled action', () => {
  it('plans on a PR, applies on merge, hands on the kubeconfig and cleans up in post', async () => {
    const pr = f.github.addPull('first deploy');
    const head = 'a1'.repeat(20);
    const merge = 'b2'.repeat(20);
    const plan = await f.step({
      bundle,
      inputs: { command: 'plan' },
      eventName: 'pull_request',
      event: pullRequestEvent(f.github, pr, head),
      sha: head,
    });
    expect(plan.main.code, plan.main.stdout + plan.main.stderr).toBe(0);
    expect(readPlanMarker(f.github.comments[0]!.body)).toMatchObject({ environment, status: 'planned' });

    f.github.commitPulls.set(merge, [{ number: pr, mergeCommitSha: merge, merged: true }]);
    const apply = await f.step({
      bundle,
      inputs: { command: 'apply' },
      eventName: 'push',
      event: pushEvent(f.github, merge),
      sha: merge,
    });
    expect(apply.main.code, apply.main.stdout + apply.main.stderr).toBe(0);
    expect(readPlanMarker(f.github.comments[0]!.body)?.status).toBe('applied');
    expect(apply.main.outputs['failure-reason']).toBe('');
    const id = Number(apply.main.outputs['kubeconfig-artifact-id']);
    const art = f.results.artifacts.find((a) => a.id === id)!;
    expect(await decryptWith([f.identity], art.data!)).toBe(f.kubeconfig);
    expect(apply.main.summary).toContain(`## capi-mgmt apply: ${environment}`);

    const temps = JSON.parse(apply.main.state.tempPaths ?? '[]') as string[];
    expect(temps).toHaveLength(1);
    expect(apply.post.code).toBe(0);
    expect(temps.every((t) => !fs.existsSync(t))).toBe(true);

    const leaks = scanForSecrets(f.secrets, {
      planStdout: plan.main.stdout.replace(/^::add-mask::.*$/gm, ''),
      applyStdout: apply.main.stdout.replace(/^::add-mask::.*$/gm, ''),
      stderr: plan.main.stderr + apply.main.stderr,
      summaries: plan.main.summary + apply.main.summary,
      outputs: JSON.stringify([plan.main.outputs, apply.main.outputs]),
      comment: f.github.comments[0]!.body,
      artifact: art.data!,
    });
    expect(leaks).toEqual([]);
  });
});
