/**
 * The real product end to end: the committed CLI bundle
 * (`node dist/cli/index.js`) through every real layer (seed-infra on the lab
 * OpenStack, seed-k3s over SSH on the lab seed host, seed-capi on the K3s
 * stand-in it starts), for an environment like environments/lab under a
 * unique name on its own seed host sandbox.
 *
 * apply from nothing; `plan --detailed-exitcode` exits 0; then four drifts,
 * each made by an independent client (the raw OpenStack API as the lab's
 * admin, the system `ssh` on the seed host, the lab's `kubectl` on the
 * seed's Kubernetes), all detected by one `drift --detailed-exitcode`
 * (exit 2, each named in the plan) and repaired by `drift --reconcile`;
 * `plan --detailed-exitcode` exits 0 again; `destroy` leaves nothing of the
 * environment by an admin listing of every project. Every output is
 * scanned for the lab's secrets.
 *
 * K3s stopped: seed-k3s reads "running" as `systemctl is-active k3s-server`
 * (the bootstrap script's check mode); the lab's systemctl stand-in answers
 * from the unit's process, so stopping the unit stops the K3s stand-in. The
 * lab cluster behind it keeps serving, so the API stays healthy and the drift
 * reads as the bootstrap's `start` step.
 *
 * CAPI_TEST_VERBOSE=1 echoes the runs' stderr with the seconds since each
 * started (with CAPI_MGMT_DEBUG=1 the CLI adds its debug lines);
 * CAPI_E2E_LOG_DIR=DIR keeps every output as a file.
 *
 * The seed host and its K3s stand-ins are shared lab parts: run under the lab lock.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdminOpenStack,
  countsOf,
  NOTHING_LEFT,
  settledLeftovers,
  type EnvironmentNames,
} from '../helpers/admin-openstack.js';
import {
  attachAnyVolume,
  keepLogs,
  CLI_BUNDLE,
  labSeedHost,
  namesOf,
  runProcess,
  seedKubectl,
  seedShell,
  StepTimes,
  tail,
  writeLabEnvironment,
  type ProcessResult,
  type SeedHostAccess,
} from '../helpers/e2e-lab.js';
import { labCloudsPath, labDir } from '../helpers/lab-parts.js';
import { labSecrets, scanForSecrets } from '../helpers/secret-scan.js';
import { uniqueName } from '../helpers/seed-infra-lab.js';
import { Sandbox } from './ssh-sandbox.js';

const CAPO = { namespace: 'capo-system', name: 'capo-controller-manager' };

describe('the CLI bundle end to end on the lab', () => {
  const environment = uniqueName('e2e');
  const names: EnvironmentNames = namesOf(environment);
  const times = new StepTimes();
  /** Every stdout and stderr of the runs, for the secret scan. */
  const outputs: Record<string, string> = {};
  let runs = 0;
  let tmp: string;
  let sandbox: Sandbox;
  let seedHost: SeedHostAccess;
  let admin: AdminOpenStack;
  let childEnv: NodeJS.ProcessEnv;
  let applied = false;

  /** `capi-mgmt <command> --env <environment>` from the committed bundle, as a user runs it. */
  async function cli(step: string, ...args: string[]): Promise<ProcessResult> {
    const r = await runProcess(
      process.execPath,
      [CLI_BUNDLE, ...args, '--env', environment, '--ssh-private-key-file', path.join(sandbox.dir, 'id_ed25519')],
      { cwd: tmp, env: childEnv },
    );
    runs++;
    outputs[`run ${runs} (${step}) stdout`] = r.stdout;
    outputs[`run ${runs} (${step}) stderr`] = r.stderr;
    times.add(`${step}: capi-mgmt ${args.join(' ')}`, r.ms, r.phases);
    return r;
  }

  /** The plan lines (`  ~ address  (reason)`) of a text plan, by address. */
  function planLines(r: ProcessResult): Map<string, string> {
    const m = new Map<string, string>();
    for (const line of r.stdout.split('\n')) {
      const x = /^\s+(\+|~|-\/\+|-)\s(\S+)(.*)$/.exec(line);
      if (x) m.set(x[2]!, `${x[1]} ${x[2]}${x[3]}`);
    }
    return m;
  }

  const isActive = async (): Promise<string> =>
    (await seedShell(sandbox, seedHost, 'systemctl is-active k3s-server')).stdout.trim();

  beforeAll(async () => {
    seedHost = labSeedHost();
    admin = new AdminOpenStack();
    const t = Date.now();
    sandbox = Sandbox.create('e2e');
    times.add('seed host sandbox created', Date.now() - t);
    attachAnyVolume(sandbox);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'capi-e2e-cli-'));
    writeLabEnvironment({
      environmentsDir: path.join(tmp, 'environments'),
      name: environment,
      sandbox,
      seedHost,
      openstack: { cloud: 'lab', cloudsYamlFile: labCloudsPath() },
    });
    // A user's shell: nothing of the test runner, and an empty tool cache, so the tools come from the mirror.
    childEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LANG: 'C.UTF-8',
      XDG_CACHE_HOME: path.join(tmp, 'cache'),
      ...(process.env.CAPI_MGMT_DEBUG ? { CAPI_MGMT_DEBUG: process.env.CAPI_MGMT_DEBUG } : {}),
    };
  });

  afterAll(async () => {
    try {
      // A failed test leaves its resources: remove them, as the test would have.
      if (applied && sandbox) {
        const r = await cli('cleanup', 'destroy', '--yes');
        if (r.code !== 0) process.stderr.write(`e2e-cli: cleanup destroy failed\n${tail(r)}\n`);
      }
    } finally {
      const t = Date.now();
      sandbox?.remove();
      times.add('seed host sandbox removed (its K3s stand-in stopped and purged)', Date.now() - t);
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
      keepLogs('e2e-cli', outputs);
      process.stderr.write(times.report(`e2e-cli (${environment})`));
    }
  });

  it(
    'applies from nothing, finds four drifts made by other clients, repairs them, and destroys to nothing',
    { timeout: 1_200_000 },
    async () => {
      expect(countsOf(await admin.leftovers(names)), 'the environment exists before apply').toEqual(
        countsOf(NOTHING_LEFT),
      );

      // 1. apply from nothing, through every layer.
      applied = true;
      const apply = await cli('apply', 'apply', '--yes');
      expect(apply.code, tail(apply)).toBe(0);
      expect(apply.stdout).toMatch(/apply: \d+ change\(s\) made to /);
      for (const layer of ['seed-infra', 'seed-k3s', 'seed-capi'])
        expect(apply.stderr, `apply ran layer ${layer}`).toContain(`apply ${layer}`);
      const made = await times.time('admin listing after apply', () => admin.leftovers(names));
      expect(countsOf(made)).toMatchObject({
        servers: 1,
        floatingIps: 1,
        securityGroups: 1,
        networks: 1,
        subnets: 1,
        routers: 1,
        volumes: 1,
        keypairs: 1,
        lockMarkers: 0,
      });
      expect((await seedKubectl(sandbox, ['get', 'deployment', '-n', CAPO.namespace, CAPO.name])).code).toBe(0);

      // 2. A fresh plan finds nothing to do.
      const plan = await cli('plan after apply', 'plan', '--detailed-exitcode');
      expect(plan.code, tail(plan)).toBe(0);
      expect(plan.stdout).toContain(`No changes. ${environment} matches its desired state.`);

      // 3. Drift, each made by a client that is not the product, and each checked to have happened.
      await times.time('make four drifts', async () => {
        // (a) the SSH ingress rule of the seed's security group, deleted with the admin's raw API.
        const sg = await admin.securityGroup(names);
        const ssh = sg.rules.filter(
          (r) => r.direction === 'ingress' && r.protocol === 'tcp' && r.port_range_min === 22,
        );
        expect(ssh, 'the seed security group has one SSH ingress rule').toHaveLength(1);
        await admin.deleteSecurityGroupRule(ssh[0]!.id);
        expect((await admin.securityGroup(names)).rules.map((r) => r.id)).not.toContain(ssh[0]!.id);

        // (b) the seed's floating IP, released (deleted) by the admin.
        const fips = await admin.floatingIps(names);
        expect(fips).toHaveLength(1);
        await admin.deleteFloatingIp(fips[0]!.id);
        expect(await admin.floatingIps(names)).toEqual([]);

        // (c) K3s stopped on the seed host, over SSH, as an operator would.
        expect(await isActive()).toBe('active');
        const stop = await seedShell(sandbox, seedHost, 'sudo systemctl stop k3s-server');
        expect(stop.code, tail(stop)).toBe(0);
        expect(await isActive()).toBe('inactive');

        // (d) the CAPO controller Deployment deleted on the seed's Kubernetes.
        const del = await seedKubectl(sandbox, ['delete', 'deployment', '-n', CAPO.namespace, CAPO.name]);
        expect(del.code, tail(del)).toBe(0);
        const gone = await seedKubectl(sandbox, ['get', 'deployment', '-n', CAPO.namespace, CAPO.name]);
        expect(gone.stderr).toMatch(/NotFound/);
      });

      // 4. One drift run detects all four, each by name.
      const drift = await cli('drift', 'drift', '--detailed-exitcode');
      expect(drift.code, tail(drift)).toBe(2);
      const found = planLines(drift);
      expect(found.get(`security-group/${names.seedName}`), drift.stdout).toMatch(
        /^~ \S+ {2}\(missing: ingress IPv4 tcp 22 from 0\.0\.0\.0\/0\)$/,
      );
      expect(found.get(`floating-ip/${names.seedName}`), drift.stdout).toMatch(/^\+ /);
      expect(found.get(`k3s/${names.seedName}`), drift.stdout).toMatch(/^~ \S+ {2}\(repair the seed: start\)$/);
      // Its only controller gone, the provider reads as not installed (a lost extra controller would read as missing).
      expect(found.get('provider/cluster-api-provider-openstack'), drift.stdout).toMatch(
        new RegExp(
          `^(\\+ \\S+ {2}\\(Cluster API Provider OpenStack is not installed\\)|~ .*controllers missing: ${CAPO.namespace}/${CAPO.name})`,
        ),
      );
      expect([...found.keys()].sort(), 'nothing else drifted').toEqual(
        [
          `floating-ip/${names.seedName}`,
          `k3s/${names.seedName}`,
          'provider/cluster-api-provider-openstack',
          `security-group/${names.seedName}`,
        ].sort(),
      );

      // 5. Repaired by drift --reconcile; a fresh plan is empty again.
      const repair = await cli('repair', 'drift', '--reconcile', '--yes');
      expect(repair.code, tail(repair)).toBe(0);
      const after = await cli('plan after repair', 'plan', '--detailed-exitcode');
      expect(after.code, tail(after)).toBe(0);
      expect(await isActive()).toBe('active');
      expect((await admin.floatingIps(names)).length).toBe(1);
      expect((await seedKubectl(sandbox, ['get', 'deployment', '-n', CAPO.namespace, CAPO.name])).code).toBe(0);
      // No run leaves the lock held (a run that locks takes a Lease on the seed, or a marker on OpenStack).
      const lease = await seedKubectl(sandbox, ['get', 'lease', '-n', 'kube-system', names.lockName]);
      expect.soft(lease.stderr, `Lease kube-system/${names.lockName} left on the seed`).toMatch(/NotFound/);

      // 6. destroy leaves nothing of the environment, by the admin's listing of every project.
      const destroy = await cli('destroy', 'destroy', '--yes');
      expect(destroy.code, tail(destroy)).toBe(0);
      applied = false;
      const left = await times.time('admin listing after destroy', () => settledLeftovers(admin, names));
      expect(left).toEqual(NOTHING_LEFT);

      // 7. No secret in anything the runs printed.
      const secrets = [
        ...labSecrets(labDir()),
        ...fs
          .readFileSync(path.join(sandbox.dir, 'id_ed25519'), 'utf8')
          .split('\n')
          .filter((l) => l.length >= 16 && !l.startsWith('-----')),
      ];
      expect(scanForSecrets(secrets, outputs)).toEqual([]);
    },
  );
});
