/**
 * The real product end to end as GitHub runs it: the committed action
 * bundle (`node dist/index.js`, main then post) with the runner's
 * environment (INPUT_*, GITHUB_EVENT_PATH, file commands), against the
 * GitHub REST and artifact stand-ins and the real layers on the lab: `plan`
 * on a pull request, then `apply` on the push that merges it. The PR
 * comment, the job summary and the outputs therefore come from a real plan.
 * The environment is destroyed afterwards with the committed CLI bundle,
 * and an admin listing of every project finds nothing of it.
 *
 * The management cluster's kubeconfig artifact is not asserted as uploaded:
 * it comes from the `cluster` layer, which is not built yet (README,
 * "Layers"), so with the real layers an apply has no kubeconfig to hand on.
 * This test asserts that nothing is uploaded and nothing claims an upload.
 *
 * The seed host and its K3s stand-ins are shared lab parts: run under the lab lock.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPlanBlock, readPlanMarker } from '../../src/github/marker.js';
import type { Plan } from '../../src/plan/plan.js';
import { pullRequestEvent, pushEvent } from '../helpers/action-fixture.js';
import { runStep, type StepResult } from '../helpers/action-runner.js';
import { AdminOpenStack, countsOf, NOTHING_LEFT, settledLeftovers } from '../helpers/admin-openstack.js';
import {
  ACTION_BUNDLE,
  attachAnyVolume,
  keepLogs,
  CLI_BUNDLE,
  labSeedHost,
  namesOf,
  runProcess,
  seedKubectl,
  StepTimes,
  tail,
  writeLabEnvironment,
  type ProcessResult,
  type SeedHostAccess,
} from '../helpers/e2e-lab.js';
import { startGitHubApi, type GitHubStandIn } from '../helpers/github-api.js';
import { labCloudsPath, labDir } from '../helpers/lab-parts.js';
import { startResultsService, type ResultsStandIn } from '../helpers/results-service.js';
import { labSecrets, scanForSecrets } from '../helpers/secret-scan.js';
import { uniqueName } from '../helpers/seed-infra-lab.js';
import { Sandbox } from './ssh-sandbox.js';

const APP_TOKEN = 'ghs_e2eactionsapptoken0042';
const sha = (c: string): string => c.repeat(40).slice(0, 40);

/** The lab's clouds.yaml reduced to the one cloud a user would put in the secret. */
function labCloudOnly(): string {
  const doc = parse(fs.readFileSync(labCloudsPath(), 'utf8')) as { clouds: Record<string, unknown> };
  return stringify({ clouds: { lab: doc.clouds.lab } });
}

describe('the action bundle end to end on the lab', () => {
  const environment = uniqueName('e2a');
  const names = namesOf(environment);
  const times = new StepTimes();
  /** Everything the runs printed or published, for the secret scan. */
  const seen: Record<string, string | Buffer> = {};
  let tmp: string;
  let workspace: string;
  let sandbox: Sandbox;
  let seedHost: SeedHostAccess;
  let admin: AdminOpenStack;
  let github: GitHubStandIn;
  let results: ResultsStandIn;
  let identity: string;
  let cloudsYaml: string;
  let toolCache: string;
  let cliEnvironments: string;
  let runId = 7100;
  let touched = false;

  /** One workflow step as the runner runs it: main, then post with main's state. */
  async function step(
    what: string,
    o: { inputs: Record<string, string>; eventName: string; event: unknown; sha: string },
  ): Promise<{ main: StepResult; post: StepResult }> {
    const id = ++runId;
    const t = Date.now();
    const r = await runStep({
      bundle: ACTION_BUNDLE,
      workspace,
      token: APP_TOKEN,
      apiUrl: github.url,
      resultsUrl: results.url,
      runtimeToken: results.runtimeToken(`run-backend-${id}`, `job-backend-${id}`),
      runId: id,
      eventName: o.eventName,
      event: o.event,
      sha: o.sha,
      inputs: {
        environment,
        'clouds-yaml': cloudsYaml,
        'ssh-private-key': sandbox.privateKey,
        ...o.inputs,
      },
      // A self-hosted runner: its tool cache persists between jobs.
      env: { RUNNER_TOOL_CACHE: toolCache, LANG: 'C.UTF-8' },
    });
    times.add(
      `${what}: action ${o.inputs.command} on ${o.eventName} (main ${r.main.code}, post ${r.post.code})`,
      Date.now() - t,
    );
    for (const [k, s] of Object.entries(r)) {
      // ::add-mask:: lines are commands to the runner, which hides them; they are not log output.
      seen[`${what} ${k} stdout`] = s.stdout
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
        .join('\n');
      seen[`${what} ${k} stderr`] = s.stderr;
      seen[`${what} ${k} summary`] = s.summary;
      seen[`${what} ${k} outputs`] = JSON.stringify(s.outputs);
    }
    return r;
  }

  async function cli(what: string, ...args: string[]): Promise<ProcessResult> {
    const r = await runProcess(
      process.execPath,
      [
        CLI_BUNDLE,
        ...args,
        '--env',
        environment,
        '--environments-dir',
        cliEnvironments,
        '--ssh-private-key-file',
        path.join(sandbox.dir, 'id_ed25519'),
      ],
      {
        cwd: tmp,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', XDG_CACHE_HOME: path.join(tmp, 'xdg') },
      },
    );
    seen[`${what} stdout`] = r.stdout;
    seen[`${what} stderr`] = r.stderr;
    times.add(`${what}: capi-mgmt ${args.join(' ')}`, r.ms, r.phases);
    return r;
  }

  const log = (s: StepResult): string => `${s.stdout}\n${s.stderr}`.split('\n').slice(-60).join('\n');
  const botComments = () => github.comments.filter((c) => c.login === 'github-actions[bot]');

  beforeAll(async () => {
    seedHost = labSeedHost();
    admin = new AdminOpenStack();
    const t = Date.now();
    sandbox = Sandbox.create('e2a');
    times.add('seed host sandbox created', Date.now() - t);
    attachAnyVolume(sandbox);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'capi-e2e-action-'));
    workspace = path.join(tmp, 'ws');
    toolCache = path.join(tmp, 'toolcache');
    fs.mkdirSync(toolCache, { recursive: true });
    identity = await generateIdentity();
    const kubeconfig = { ageRecipients: [await identityToRecipient(identity)], retentionDays: 2 };
    cloudsYaml = labCloudOnly();
    // The repository: the environment names its cloud; clouds.yaml comes from the secret (input clouds-yaml).
    writeLabEnvironment({
      environmentsDir: path.join(workspace, 'environments'),
      name: environment,
      sandbox,
      seedHost,
      openstack: { cloud: 'lab' },
      extra: { kubeconfig },
    });
    // The same environment for an operator's terminal, with the lab's clouds.yaml as a file.
    cliEnvironments = path.join(tmp, 'terminal');
    writeLabEnvironment({
      environmentsDir: cliEnvironments,
      name: environment,
      sandbox,
      seedHost,
      openstack: { cloud: 'lab', cloudsYamlFile: labCloudsPath() },
      extra: { kubeconfig },
    });
    github = await startGitHubApi({ tokens: { [APP_TOKEN]: 'github-actions[bot]' } });
    results = await startResultsService();
  });

  afterAll(async () => {
    try {
      if (touched && sandbox) {
        const r = await cli('cleanup destroy', 'destroy', '--yes');
        if (r.code !== 0) process.stderr.write(`e2e-action: cleanup destroy failed\n${tail(r)}\n`);
      }
    } finally {
      const t = Date.now();
      sandbox?.remove();
      times.add('seed host sandbox removed (its K3s stand-in stopped and purged)', Date.now() - t);
      await github?.close();
      await results?.close();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
      keepLogs('e2e-action', seen);
      process.stderr.write(times.report(`e2e-action (${environment})`));
    }
  });

  it(
    'plans on the pull request, applies on the merge push, and destroys to nothing',
    { timeout: 900_000 },
    async () => {
      // 1. plan on pull_request: the comment holds the real plan.
      const pr = github.addPull('add the lab management seed');
      const plan = await step('plan', {
        inputs: { command: 'plan' },
        eventName: 'pull_request',
        event: pullRequestEvent(github, pr, sha('a')),
        sha: sha('a'),
      });
      expect(plan.main.code, log(plan.main)).toBe(0);
      expect(plan.post.code, log(plan.post)).toBe(0);
      const hash = plan.main.outputs['plan-hash']!;
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
      expect(plan.main.outputs).toMatchObject({ changes: 'true', 'failure-reason': '' });
      const planned = JSON.parse(plan.main.outputs['plan-json']!) as Plan;
      expect(planned.hash).toBe(hash);
      expect(planned.layers).toEqual(['seed-infra', 'seed-k3s', 'seed-capi']);
      const real = planned.changes.filter((c) => c.action !== 'no-op');
      const addresses = real.map((c) => c.address);
      for (const a of [`server/${names.seedName}`, `security-group/${names.seedName}`, `k3s/${names.seedName}`])
        expect(addresses, "the plan is the real layers' plan from nothing").toContain(a);
      expect(real.filter((c) => c.layer === 'seed-capi').length).toBeGreaterThan(0);
      expect(planned.counts.create).toBe(real.length);

      expect(botComments()).toHaveLength(1);
      const body = botComments()[0]!.body;
      expect(readPlanMarker(body)).toMatchObject({ environment, status: 'planned' });
      expect(readPlanBlock(body)?.hash).toBe(hash);
      expect(body).toContain(`plan hash \`${hash.slice(0, 12)}\``);
      expect(body).toContain(`**Plan for ${environment}: ${real.length} to create.**`);
      for (const layer of planned.layers) {
        const n = real.filter((c) => c.layer === layer).length;
        expect(body, `section of layer ${layer}`).toContain(`<summary>${layer}: ${n} change(s)</summary>`);
      }
      for (const a of addresses) expect(body, `comment names ${a}`).toContain(a);
      for (const n of planned.notes) expect(body, 'comment shows the plan notes').toContain(n);
      expect(plan.main.summary).toContain(`## capi-mgmt plan: ${environment}`);
      expect(plan.main.summary).toContain(`Plan comment on pull request #${pr} updated`);
      expect(countsOf(await admin.leftovers(names)), 'plan changed nothing').toEqual(countsOf(NOTHING_LEFT));

      // 2. apply on the push that merged the PR: the approved plan, under the lock.
      github.commitPulls.set(sha('b'), [{ number: pr, mergeCommitSha: sha('b'), merged: true }]);
      touched = true;
      const apply = await step('apply', {
        inputs: { command: 'apply' },
        eventName: 'push',
        event: pushEvent(github, sha('b')),
        sha: sha('b'),
      });
      expect(apply.main.code, log(apply.main)).toBe(0);
      expect(apply.post.code, log(apply.post)).toBe(0);
      expect(apply.main.outputs).toMatchObject({ changes: 'true', 'plan-hash': hash, 'failure-reason': '' });
      expect(readPlanMarker(botComments()[0]!.body)?.status).toBe('applied');
      const summary = apply.main.summary;
      expect(summary).toContain(`## capi-mgmt apply: ${environment}`);
      expect(summary).toContain(`Approved plan: pull request #${pr}, plan hash \`${hash.slice(0, 12)}\`.`);
      expect(summary).toContain(`Applied ${real.length} change(s).`);
      expect(summary).toContain(
        `Lock: held lock marker (security group ${names.lockName}) on OpenStack, then Lease kube-system/${names.lockName} on the seed as https://github.com/acme/platform/actions/runs/`,
      );
      // No cluster layer yet, so no kubeconfig to hand on (see the file comment): nothing uploaded, nothing claimed.
      expect(apply.main.outputs['kubeconfig-artifact-id']).toBeUndefined();
      expect(results.artifacts).toEqual([]);
      expect(summary).not.toContain('Kubeconfig artifact');

      // The lock is released: no marker on OpenStack, no Lease on the seed. Soft, so a held Lease does not hide the rest.
      const lease = await seedKubectl(sandbox, ['get', 'lease', '-n', 'kube-system', names.lockName, '-o', 'yaml']);
      const lockLines = `${apply.main.stdout}\n${apply.main.stderr}`
        .split('\n')
        .filter((l) => /lock|Lease/.test(l) && !/^::(add-mask|debug)::/.test(l))
        .join('\n');
      expect
        .soft(
          lease.stderr,
          `Lease kube-system/${names.lockName} left on the seed:\n${lease.stdout}\nthe run said:\n${lockLines}`,
        )
        .toMatch(/NotFound/);
      const made = await admin.leftovers(names);
      expect(made.lockMarkers).toEqual([]);
      expect(countsOf(made)).toMatchObject({ servers: 1, floatingIps: 1, securityGroups: 1, networks: 1, volumes: 1 });
      expect(
        (await seedKubectl(sandbox, ['get', 'deployment', '-n', 'capo-system', 'capo-controller-manager'])).code,
      ).toBe(0);

      // 3. destroy with the CLI bundle: nothing of the environment left.
      const destroy = await cli('destroy', 'destroy', '--yes');
      expect(destroy.code, tail(destroy)).toBe(0);
      touched = false;
      expect(await times.time('admin listing after destroy', () => settledLeftovers(admin, names))).toEqual(
        NOTHING_LEFT,
      );

      // 4. The stand-ins saw no call they refuse, and nothing anyone can read holds a secret.
      expect([...github.takeUnexpected(), ...results.takeUnexpected()]).toEqual([]);
      github.comments.forEach((c, i) => (seen[`comment ${i}`] = c.body));
      github.requests.forEach((r, i) => (seen[`GitHub request ${i} ${r.method} ${r.path}`] = r.body ?? ''));
      const secrets = [
        ...labSecrets(labDir()),
        APP_TOKEN,
        identity,
        ...sandbox.privateKey.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----')),
      ];
      expect(scanForSecrets(secrets, seen)).toEqual([]);
    },
  );
});
