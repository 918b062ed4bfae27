/**
 * The action end to end, as the runner runs it: a child process with
 * GitHub's environment, against loopback stand-ins for the GitHub REST API
 * and the artifact service (spoken to by the real @actions/github and
 * @actions/artifact), with test-only layers whose state is in a temp dir,
 * and the real lock: a Neutron marker on the lab OpenStack, then a Lease on
 * the lab's `seed` Kubernetes.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { DefaultArtifactClient } from '@actions/artifact';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { main as cli } from '../../src/cli/main.js';
import { readDriftMarker, readPlanBlock, readPlanMarker } from '../../src/github/marker.js';
import { lockName } from '../../src/lock/backends.js';
import { runtimeToken } from '../helpers/results-service.js';
import { makeFixture, pullRequestEvent, pushEvent, scanForSecrets, type Fixture } from '../helpers/action-fixture.js';
import { labKube, labNeutron, labSeedKubeconfigPath } from '../helpers/action-lab.js';
import type { StepOptions, StepResult } from '../helpers/action-runner.js';

const environment = `gh-${randomBytes(3).toString('hex')}`;
const leasePath = `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${lockName(environment)}`;
let f: Fixture;
/** Everything the runs printed or published, for the secret scan at the end. */
const seen: Record<string, string | Buffer> = {};
let n = 0;

const sha = (c: string): string => c.repeat(40).slice(0, 40);
const widgets = (): Record<string, { size: number }> =>
  JSON.parse(fs.readFileSync(path.join(f.stateDir, 'widgets.json'), 'utf8'));
const botComments = () => f.github.comments.filter((c) => c.login === 'github-actions[bot]');

function keep(r: { main: StepResult; post: StepResult }): { main: StepResult; post: StepResult } {
  n++;
  for (const [k, s] of Object.entries(r)) {
    // ::add-mask:: lines are commands to the runner, which hides them; they are not log output.
    seen[`run ${n} ${k} stdout`] = s.stdout
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n');
    seen[`run ${n} ${k} stderr`] = s.stderr;
    seen[`run ${n} ${k} summary`] = s.summary;
    seen[`run ${n} ${k} outputs`] = JSON.stringify(s.outputs);
  }
  return r;
}

const log = (s: StepResult): string => `${s.stdout}\n${s.stderr}`;

beforeAll(async () => {
  f = await makeFixture({ environment, seedKubeconfig: labSeedKubeconfigPath() });
  labNeutron(); // fail early with a clear message when the OpenStack lab is down
});

// The stand-ins record every call they refuse or cannot route: there must be none.
afterEach(() => {
  if (f) expect(f.unexpectedCalls()).toEqual([]);
});

afterAll(async () => {
  await labKube().request({ method: 'DELETE', path: leasePath });
  await f?.close();
});

describe('plan on a pull request', () => {
  it('writes one comment per environment, found by marker among our own comments, and updates it', async () => {
    const pr = f.github.addPull('grow widgets');
    const event = pullRequestEvent(f.github, pr, sha('a'));
    const first = keep(await f.step({ inputs: { command: 'plan' }, eventName: 'pull_request', event, sha: sha('a') }));
    expect(first.main.code, log(first.main)).toBe(0);
    expect(first.main.outputs).toMatchObject({ changes: 'true', 'failure-reason': '' });
    expect(botComments()).toHaveLength(1);
    const body = botComments()[0]!.body;
    expect(readPlanMarker(body)).toMatchObject({ environment, status: 'planned' });
    expect(readPlanBlock(body)?.hash).toBe(first.main.outputs['plan-hash']);
    expect(body).toContain(`**Plan for ${environment}: 3 to create.**`);
    expect(body).toContain('<summary>test-seed: 1 change(s)</summary>');
    expect(body).toContain('secret: (sensitive)');
    expect(JSON.parse(first.main.outputs['plan-json']!).hash).toBe(first.main.outputs['plan-hash']);
    expect(first.main.summary).toContain(`## capi-mgmt plan: ${environment}`);
    expect(first.main.summary).toContain(`Plan comment on pull request #${pr} updated`);

    // A look-alike from someone else is ignored; ours is edited in place.
    f.github.comments.push({
      id: 1,
      issue: pr,
      body: body.replace(/"planHash":"\w+"/, '"planHash":"forged"'),
      login: 'mallory',
    });
    const second = keep(await f.step({ inputs: { command: 'plan' }, eventName: 'pull_request', event, sha: sha('a') }));
    expect(second.main.code).toBe(0);
    expect(botComments()).toHaveLength(1);
    expect(f.github.requests.filter((r) => r.method === 'PATCH' && r.path.includes('/issues/comments/'))).toHaveLength(
      1,
    );
    // GITHUB_TOKEN cannot call GET /user; the action fell back to github-actions[bot].
    expect(f.github.requests.some((r) => r.path === '/user')).toBe(true);
  });
});

describe('apply on push to main', () => {
  it('applies the approved plan under the lock and hands on the kubeconfig, encrypted', async () => {
    const pr = f.github.issues.find((i) => i.isPull)!.number;
    f.github.commitPulls.set(sha('b'), [{ number: pr, mergeCommitSha: sha('b'), merged: true }]);
    const r = keep(
      await f.step({
        inputs: { command: 'apply' },
        eventName: 'push',
        event: pushEvent(f.github, sha('b')),
        sha: sha('b'),
      }),
    );
    expect(r.main.code, log(r.main)).toBe(0);
    expect(r.main.outputs['failure-reason']).toBe('');
    expect(widgets().a!.size).toBe(1);
    expect(readPlanMarker(botComments()[0]!.body)?.status).toBe('applied');
    expect(botComments()[0]!.body).toContain(
      ':white_check_mark: Plan applied in [workflow run](https://github.com/acme/platform/actions/runs/',
    );

    // The lock: the OpenStack marker first, then the Lease on the seed; both gone afterwards.
    const out = log(r.main);
    const marker = `lock marker (security group ${lockName(environment)}) on OpenStack`;
    const lease = `Lease kube-system/${lockName(environment)} on the seed`;
    expect(out.indexOf(`took ${marker}`)).toBeGreaterThan(-1);
    expect(out.indexOf(`took ${lease}`)).toBeGreaterThan(out.indexOf(`took ${marker}`));
    expect(out).toContain(`released ${marker}`);
    expect(out).toContain(`released ${lease}`);
    expect(r.main.summary).toContain(
      `Lock: held ${marker}, then ${lease} as https://github.com/acme/platform/actions/runs/`,
    );
    expect((await labKube().request({ method: 'GET', path: leasePath })).status).toBe(404);
    expect(await labNeutron().listSecurityGroups({ name: lockName(environment) })).toEqual([]);

    // The artifact: one .age file, uploaded raw with the retention from config.
    const id = Number(r.main.outputs['kubeconfig-artifact-id']);
    const art = f.results.artifacts.find((a) => a.id === id)!;
    expect(art).toMatchObject({ name: `capi-mgmt-${environment}-kubeconfig.age`, finalized: true });
    expect(new Date(art.expiresAt!).getTime() - Date.now()).toBeGreaterThan(1.9 * 86400_000);
    seen['artifact'] = art.data!;
    expect(r.main.summary).toContain(`Kubeconfig artifact \`capi-mgmt-${environment}-kubeconfig.age\` (id ${id}`);

    // Download it with the real client, as a later job would, and open it with the CLI.
    const dl = path.join(f.dir, 'download');
    fs.mkdirSync(dl);
    const saved = { ...process.env };
    Object.assign(process.env, {
      ACTIONS_RESULTS_URL: f.results.url,
      ACTIONS_RUNTIME_TOKEN: runtimeToken(art.runBackendId, 'later-job'),
      GITHUB_WORKSPACE: f.workspace,
    });
    try {
      await new DefaultArtifactClient().downloadArtifact(id, { path: dl });
    } finally {
      process.env = saved;
    }
    fs.writeFileSync(path.join(f.dir, 'key.txt'), `${f.identity}\n`);
    const err = new PassThrough();
    const code = await cli({
      argv: [
        'decrypt-kubeconfig',
        '--identity',
        path.join(f.dir, 'key.txt'),
        '--in',
        path.join(dl, art.name),
        '--out',
        path.join(f.dir, 'kubeconfig'),
      ],
      stdout: new PassThrough(),
      stderr: err,
    });
    expect(code).toBe(0);
    expect(fs.readFileSync(path.join(f.dir, 'kubeconfig'), 'utf8')).toBe(f.kubeconfig);

    // The post step removed the temp dir holding the ciphertext.
    const temps = JSON.parse(r.main.state.tempPaths ?? '[]') as string[];
    expect(temps.length).toBe(1);
    expect(r.post.code).toBe(0);
    for (const t of temps) expect(fs.existsSync(t)).toBe(false);
  });

  it('refuses a plan that changed since approval and shows the difference', async () => {
    const pr = f.github.addPull('bigger widget a');
    const env = { CAPI_MGMT_TEST_WIDGET_SIZE: '2' };
    keep(
      await f.step({
        inputs: { command: 'plan' },
        eventName: 'pull_request',
        event: pullRequestEvent(f.github, pr, sha('c')),
        sha: sha('c'),
        env,
      }),
    );
    f.github.commitPulls.set(sha('d'), [{ number: pr, mergeCommitSha: sha('d'), merged: true }]);
    const r = keep(
      await f.step({
        inputs: { command: 'apply' },
        eventName: 'push',
        event: pushEvent(f.github, sha('d')),
        sha: sha('d'),
        env: { CAPI_MGMT_TEST_WIDGET_SIZE: '3' },
      }),
    );
    expect(r.main.code).toBe(1);
    expect(r.main.outputs['failure-reason']).toBe('plan-changed');
    expect(widgets().a!.size).toBe(1); // nothing applied
    expect(r.main.summary).toMatch(/```diff\n--- approved plan \w+\n\+\+\+ current plan \w+\n/);
    expect(r.main.summary).toMatch(/^-\s+size: 2$/m);
    expect(r.main.summary).toMatch(/^\+\s+size: 3$/m);
    expect(r.main.stdout).toContain('::group::the plan changed since it was approved');
    const comment = botComments().find((c) => c.issue === pr)!;
    expect(readPlanMarker(comment.body)?.status).toBe('plan-changed');
    expect(comment.body).toContain(':x: Plan not applied in [workflow run]');
    expect(r.main.outputs['kubeconfig-artifact-id']).toBeUndefined();
  });

  it('refuses a push with no approved plan, and auto-approve skips the check', async () => {
    const refused = keep(
      await f.step({
        inputs: { command: 'apply' },
        eventName: 'push',
        event: pushEvent(f.github, sha('e')),
        sha: sha('e'),
      }),
    );
    expect(refused.main.code).toBe(1);
    expect(refused.main.outputs['failure-reason']).toBe('plan-changed');
    expect(refused.main.summary).toContain('no merged pull request found for commit eeeeeeeeeeee');
    const env = { CAPI_MGMT_TEST_WIDGET_SIZE: '3' };
    const auto = keep(
      await f.step({
        inputs: { command: 'apply', 'auto-approve': 'true' },
        eventName: 'push',
        event: pushEvent(f.github, sha('e')),
        sha: sha('e'),
        env,
      }),
    );
    expect(auto.main.code, log(auto.main)).toBe(0);
    expect(widgets().a!.size).toBe(3);
    expect(auto.main.summary).toContain('`auto-approve: true`');
  });
});

describe('drift on a schedule', () => {
  const env = { CAPI_MGMT_TEST_WIDGET_SIZE: '3' };
  const drift = (inputs: Record<string, string> = {}) =>
    f.step({
      inputs: { command: 'drift', 'drift-issue': 'true', ...inputs },
      eventName: 'schedule',
      event: { schedule: '17 3 * * *' },
      sha: sha('f'),
      env,
    });
  const driftIssues = () => f.github.issues.filter((i) => readDriftMarker(i.body)?.environment === environment);

  it('fails on drift, keeps one issue open, reconciles, and closes the issue when clean', async () => {
    const clean = keep(await drift());
    expect(clean.main.code, log(clean.main)).toBe(0);
    expect(clean.main.summary).toContain(':white_check_mark: No drift');
    expect(driftIssues()).toHaveLength(0);

    fs.writeFileSync(
      path.join(f.stateDir, 'widgets.json'),
      JSON.stringify({ ...widgets(), a: { size: 99 }, stray: { size: 1 } }),
    );
    const found = keep(await drift());
    expect(found.main.code).toBe(1);
    expect(found.main.outputs).toMatchObject({ changes: 'true', 'failure-reason': 'drift' });
    expect(found.main.summary).toContain(':warning: **Drift found**');
    expect(found.main.summary).toContain('widget/stray');
    expect(driftIssues()).toHaveLength(1);
    expect(driftIssues()[0]).toMatchObject({ state: 'open', login: 'github-actions[bot]' });
    expect(driftIssues()[0]!.body).toContain('widget/stray');

    keep(await drift());
    expect(driftIssues()).toHaveLength(1); // updated, not a second one

    const fixed = keep(await drift({ reconcile: 'true' }));
    expect(fixed.main.code, log(fixed.main)).toBe(0);
    expect(fixed.main.outputs['failure-reason']).toBe('');
    expect(fixed.main.summary).toContain(':wrench: Drift found and reconciled');
    expect(widgets()).toEqual(expect.not.objectContaining({ stray: expect.anything() }));
    expect(widgets().a!.size).toBe(3);

    const after = keep(await drift());
    expect(after.main.code).toBe(0);
    expect(driftIssues()[0]!.state).toBe('closed');
  });
});

describe('restore by hand', () => {
  it('does nothing without the right confirm, and restores the named backup with it', async () => {
    const dispatch = { inputs: { backup: 'nightly-1', confirm: 'prod' } };
    const wrong = keep(
      await f.step({
        inputs: { command: 'restore', backup: 'nightly-1', confirm: 'prod' },
        eventName: 'workflow_dispatch',
        event: dispatch,
        sha: sha('1'),
      }),
    );
    expect(wrong.main.code).toBe(1);
    expect(wrong.main.outputs['failure-reason']).toBe('usage');
    expect(wrong.main.summary).toContain('nothing was changed');
    expect(fs.existsSync(path.join(f.stateDir, 'restored'))).toBe(false);

    const right = keep(
      await f.step({
        inputs: { command: 'restore', backup: 'nightly-1', confirm: environment },
        eventName: 'workflow_dispatch',
        event: dispatch,
        sha: sha('1'),
        env: { CAPI_MGMT_TEST_WIDGET_SIZE: '3' },
      }),
    );
    expect(right.main.code, log(right.main)).toBe(0);
    expect(fs.readFileSync(path.join(f.stateDir, 'restored'), 'utf8')).toBe('nightly-1');
    expect(right.main.summary).toContain('Restored backup `nightly-1`');
    expect(right.main.outputs['kubeconfig-artifact-id']).toMatch(/^\d+$/);
  });
});

describe('the lock', () => {
  const env = { CAPI_MGMT_TEST_WIDGET_SIZE: '3' };
  const apply = (
    extra: Record<string, string> = {},
    inputs: Record<string, string> = {},
    interrupt?: StepOptions['interrupt'],
  ) =>
    f.step({
      inputs: { command: 'apply', 'auto-approve': 'true', ...inputs },
      eventName: 'push',
      event: pushEvent(f.github, sha('2')),
      sha: sha('2'),
      env: { ...env, ...extra },
      interrupt,
    });

  it('makes a second run wait with progress lines and fail with locked', async () => {
    // A run that holds the Lease on the seed until the test opens its gate.
    const gate = path.join(f.dir, 'gate');
    fs.writeFileSync(gate, '');
    const slow = apply({ CAPI_MGMT_TEST_APPLY_GATE: gate, CAPI_MGMT_TEST_WIDGET_SIZE: '4' });
    const kube = labKube();
    const deadline = Date.now() + 60_000;
    let holder = '';
    while (Date.now() < deadline && !holder) {
      const r = await kube.request({ method: 'GET', path: leasePath });
      holder = r.status === 200 ? ((r.body as { spec?: { holderIdentity?: string } }).spec?.holderIdentity ?? '') : '';
      if (!holder) await new Promise((res) => setTimeout(res, 250));
    }
    expect(holder).toMatch(/^https:\/\/github.com\/acme\/platform\/actions\/runs\/\d+$/);
    const blocked = keep(await apply({}, { 'lock-timeout': '3' }));
    expect(blocked.main.code).toBe(1);
    expect(blocked.main.outputs['failure-reason']).toBe('locked');
    expect(blocked.main.stdout).toContain(
      `Lease kube-system/${lockName(environment)} on the seed is held by ${holder}; waiting`,
    );
    expect(blocked.main.stdout).toMatch(/still waiting for the lock \(Lease .*held by https:/);
    expect(blocked.main.summary).toContain(':x: **locked**');
    fs.rmSync(gate);
    const done = keep(await slow);
    expect(done.main.code, log(done.main)).toBe(0);
    expect(widgets().a!.size).toBe(4);
  });

  /** Resolves once the seed's Lease is held by a run of this workflow. */
  async function leaseHeld(): Promise<string> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const r = await labKube().request({ method: 'GET', path: leasePath });
      const holder =
        r.status === 200 ? ((r.body as { spec?: { holderIdentity?: string } }).spec?.holderIdentity ?? '') : '';
      if (holder) return holder;
      await new Promise((res) => setTimeout(res, 250));
    }
    throw new Error(`the Lease ${leasePath} was not taken within 60 s`);
  }

  it('leaves no lock behind when a run is cancelled (main releases) or killed (post releases)', async () => {
    for (const signal of ['SIGINT', 'SIGKILL'] as const) {
      const gate = path.join(f.dir, 'gate');
      fs.writeFileSync(gate, '');
      const r = keep(
        await apply(
          { CAPI_MGMT_TEST_APPLY_GATE: gate, CAPI_MGMT_TEST_WIDGET_SIZE: '5' },
          {},
          {
            when: async () => void (await leaseHeld()),
            signal,
          },
        ),
      );
      fs.rmSync(gate, { force: true });
      if (signal === 'SIGINT') {
        expect(r.main.code, log(r.main)).toBe(130);
        expect(r.main.stdout).toContain('SIGINT: releasing the lock and closing connections');
        expect(r.post.stdout).not.toContain('releasing it');
      } else {
        expect(r.main.code).not.toBe(0);
        expect(r.main.state.lockHolder).toMatch(/^https:\/\/github.com\/acme\/platform\/actions\/runs\/\d+$/);
        expect(r.post.stdout, log(r.post)).toContain(`main ended while holding the lock of ${environment}`);
        expect(r.post.stdout).toContain(`released Lease kube-system/${lockName(environment)} on the seed`);
      }
      expect((await labKube().request({ method: 'GET', path: leasePath })).status, signal).toBe(404);
      expect(await labNeutron().listSecurityGroups({ name: lockName(environment) })).toEqual([]);
    }
    // The next run starts at once.
    const next = keep(await apply({}, { 'lock-timeout': '0' }));
    expect(next.main.code, log(next.main)).toBe(0);
    expect(next.main.stdout).not.toContain('waiting');
  });

  it('takes over expired locks on both sides', async () => {
    const old = new Date(Date.now() - 3_600_000).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
    const lease = await labKube().request({
      method: 'POST',
      path: '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases',
      body: {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: lockName(environment) },
        spec: {
          holderIdentity: 'https://github.com/acme/platform/actions/runs/1',
          leaseDurationSeconds: 60,
          acquireTime: old,
          renewTime: old,
        },
      },
    });
    expect(lease.status).toBe(201);
    const neutron = labNeutron();
    await neutron.createSecurityGroup({
      name: lockName(environment),
      description: `capi-mgmt lock ${JSON.stringify({ holder: 'https://github.com/acme/platform/actions/runs/2', expiresAt: new Date(Date.now() - 1000).toISOString() })}`,
      tags: [],
    });
    const r = keep(await apply({}, { 'lock-timeout': '5' }));
    expect(r.main.code, log(r.main)).toBe(0);
    expect(r.main.stdout).not.toContain('waiting');
    expect((await labKube().request({ method: 'GET', path: leasePath })).status).toBe(404);
    expect(await neutron.listSecurityGroups({ name: lockName(environment) })).toEqual([]);
  });
});

describe('secrets', () => {
  it('appear in no comment, issue, summary, log, output or artifact', () => {
    for (const c of f.github.comments) seen[`comment ${c.id}`] = c.body;
    for (const i of f.github.issues) seen[`issue ${i.number}`] = i.body;
    for (const a of f.results.artifacts) if (a.data) seen[`artifact ${a.id}`] = a.data;
    for (const q of f.github.requests) seen[`github request ${q.method} ${q.path}`] = q.body ?? '';
    expect(Object.keys(seen).length).toBeGreaterThan(40);
    expect(f.secrets.length).toBeGreaterThan(4);
    expect(scanForSecrets(f.secrets, seen)).toEqual([]);
  });
});
