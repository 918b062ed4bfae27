/**
 * Killed runs: the committed CLI bundle (`node dist/cli/index.js apply`) is
 * killed with SIGKILL at 20 points spread over an apply of seed-infra and
 * seed-k3s, and re-run each time; the last run converges. An independent
 * admin listing (admin cloud, all projects, not through the proxy) finds no
 * duplicate after any kill, exactly one of each resource at the end, and
 * nothing after destroy.
 *
 * The points: in seed-infra, by the count of changing requests (POST, PUT,
 * DELETE) the proxy forwarded, the CLI being killed while the proxy holds the
 * answer (the cloud acted, the CLI never learns it); in seed-k3s, by log
 * line: the first line of that layer's output no earlier run was killed at,
 * so each kill lands one step further into the bootstrap.
 *
 * The environment is environments/lab under a unique name, with its own seed
 * host sandbox (its own K3s stand-in). The seed host and K3s stand-ins are
 * single instances: run this file under the lab lock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnvironment } from '../../src/config/load.js';
import type { RestOpenStackClient } from '../../src/openstack/client.js';
import { FaultProxy, type ForwardedRequest } from '../helpers/fault-proxy.js';
import { labExports } from '../helpers/lab-parts.js';
import {
  inventory,
  labClient,
  NOTHING,
  ONE_SEED,
  REPO,
  uniqueName,
  writeProxiedClouds,
  type Inventory,
} from '../helpers/seed-infra-lab.js';
import { Sandbox } from './ssh-sandbox.js';

const KILLS = 20;
/**
 * Cumulative changing requests of seed-infra's apply (not the run lock's, which come first in every run)
 * at which seed-infra runs are killed: 12 points over its ~19 changes.
 */
const INFRA_TARGETS = [1, 3, 4, 6, 7, 9, 11, 12, 14, 15, 17, 18];
/** The committed bundle; CAPI_TEST_CLI_BUNDLE names another build (`node scripts/package.mjs DIR`) of the working tree. */
const CLI = process.env.CAPI_TEST_CLI_BUNDLE ?? path.join(REPO, 'dist/cli/index.js');

interface Kill {
  run: number;
  layer: 'seed-infra' | 'seed-k3s';
  at: string;
  /** Resources by kind right after the kill, from the admin listing. */
  inventory: Inventory;
}

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: string[];
  ms: number;
}

/** Numbers (times, counts, ids) differ between runs of the same step. */
const normalise = (line: string): string => line.replace(/[0-9a-f]{8}-[0-9a-f-]{27}|\d+(\.\d+)?/g, '#').trim();

describe('apply killed with SIGKILL at 20 points, re-run until it converges', () => {
  const name = uniqueName('kr');
  let proxy: FaultProxy;
  let sandbox: Sandbox;
  let tmp: string;
  let environmentsDir: string;
  let admin: RestOpenStackClient;
  let demo: RestOpenStackClient;
  let tag: string;
  let seedName: string;
  let childEnv: NodeJS.ProcessEnv;

  // The run in flight and what may kill it.
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let killArmed = false;
  let killedAt: string | undefined;
  let mutations = 0;
  const infraTargets = [...INFRA_TARGETS];
  const k3sLinesSeen = new Set<string>();
  let kills = 0;

  async function kill(at: string): Promise<void> {
    if (!child || !killArmed) return;
    killArmed = false;
    killedAt = at;
    child.kill('SIGKILL');
    await exited;
  }

  /** The run is in seed-infra's apply (from its heading): the run lock's own requests before it do not count. */
  let inInfra = false;

  /** The proxy holds a forwarded answer until this returns: kill there while it is held. */
  async function onForwarded(r: ForwardedRequest): Promise<void> {
    if (r.method === 'GET' || r.path.endsWith('/auth/tokens') || !inInfra) return;
    mutations++;
    if (killArmed && infraTargets.length > 0 && mutations >= infraTargets[0]!) {
      infraTargets.shift();
      await kill(
        `seed-infra: ${r.method} ${r.path.replace(/\/_up\/[^/]+/, '')} answered ${r.status}, not yet told (change ${mutations})`,
      );
    }
  }

  function onLine(line: string, section: string): void {
    if (section !== 'apply seed-k3s') return;
    // seed-infra is done in this run: any target it did not reach is moot.
    infraTargets.length = 0;
    const key = normalise(line);
    if (k3sLinesSeen.has(key)) return;
    k3sLinesSeen.add(key);
    void kill(`seed-k3s: after "${line.trim().slice(0, 100)}"`);
  }

  function runCli(args: string[], o: { killable?: boolean } = {}): Promise<CliRun> {
    const start = Date.now();
    const lines: string[] = [];
    killedAt = undefined;
    const c = spawn(process.execPath, [CLI, ...args, '--env', name, '--environments-dir', environmentsDir], {
      cwd: tmp,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    inInfra = false;
    killArmed = o.killable ?? false;
    let section = '';
    let buffered = '';
    const take = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        lines.push(line);
        if (line.startsWith('== ')) section = line.slice(3).trim();
        inInfra = section === 'apply seed-infra';
        if (killArmed) onLine(line, section);
      }
    };
    c.stdout!.on('data', take);
    c.stderr!.on('data', take);
    exited = new Promise((resolve) => c.once('exit', () => resolve()));
    return new Promise((resolve, reject) => {
      c.once('error', reject);
      c.once('close', (code, signal) => {
        child = undefined;
        killArmed = false;
        resolve({ code, signal, lines, ms: Date.now() - start });
      });
    });
  }

  const sshKeyArgs = () => ['--ssh-private-key-file', path.join(sandbox.dir, 'id_ed25519')];
  const listing = () => inventory(admin, demo, tag, seedName);

  beforeAll(async () => {
    // The lab seed host as the lab exports it (its sshd is checked by the lab's global setup).
    const lab = labExports();
    const host = {
      port: Number(lab.CAPI_LAB_SEED_SSH_PORT),
      hostKey: fs.readFileSync(lab.CAPI_LAB_SEED_HOST_KEY_FILE!, 'utf8').trim().split(/\s+/).slice(0, 2).join(' '),
    };
    sandbox = Sandbox.create('kr');
    // The lab's volume ids cannot be known in advance: any volume the tool asks for is "attached".
    fs.appendFileSync(path.join(sandbox.dir, 'env.sh'), 'export CAPI_LAB_ATTACH_ANY_VOLUME=1\n');
    admin = labClient('lab-admin');
    demo = labClient('lab');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'capi-killed-'));
    environmentsDir = path.join(tmp, 'environments');
    const dir = path.join(environmentsDir, name);
    fs.mkdirSync(dir, { recursive: true });

    // environments/lab, under a unique name, through the proxy, on this test's sandbox.
    const env = parse(fs.readFileSync(path.join(REPO, 'environments/lab/environment.yaml'), 'utf8')) as {
      openstack: Record<string, unknown>;
      seed: { ssh: Record<string, unknown> } & Record<string, unknown>;
    };
    proxy = await FaultProxy.start({ seed: 1, rate: 0, onForwarded });
    env.openstack.cloudsYamlFile = writeProxiedClouds(proxy, tmp);
    env.seed.sshPublicKey = fs.readFileSync(path.join(sandbox.dir, 'id_ed25519.pub'), 'utf8').trim();
    env.seed.ssh = { ...env.seed.ssh, port: host.port, hostKey: host.hostKey };
    fs.writeFileSync(path.join(dir, 'environment.yaml'), stringify(env));
    childEnv = {
      ...process.env,
      CAPI_LAB_SEED_SSH_USER: lab.CAPI_LAB_SEED_SSH_USER,
      CAPI_LAB_MIRROR_URL: lab.CAPI_LAB_MIRROR_URL,
    };
    const loaded = loadEnvironment({ name, environmentsDir, env: childEnv });
    tag = loaded.desired.tag;
    seedName = loaded.desired.seedName;
  });

  afterAll(async () => {
    if (child) await kill('cleanup');
    try {
      if (environmentsDir && proxy) {
        const r = await runCli(['destroy', '--yes', ...sshKeyArgs()]);
        if (r.code !== 0) process.stderr.write(`killed-runs: destroy failed:\n${r.lines.slice(-20).join('\n')}\n`);
      }
    } finally {
      sandbox?.remove();
      await proxy?.close();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('converges after 20 kills with no duplicate, and destroy leaves nothing', { timeout: 1_200_000 }, async () => {
    const start = Date.now();
    const killLog: Kill[] = [];
    let run = 0;
    let finished: CliRun | undefined;
    while (kills < KILLS) {
      run++;
      const r = await runCli(['apply', '--yes', ...sshKeyArgs()], { killable: true });
      if (!killedAt) {
        // Ran to the end before its point: fine, unless the points ran out before 20 kills.
        expect(r.code, r.lines.slice(-30).join('\n')).toBe(0);
        finished = r;
        break;
      }
      expect(r.signal).toBe('SIGKILL');
      kills++;
      const at = killedAt;
      killLog.push({
        run,
        layer: at.startsWith('seed-infra') ? 'seed-infra' : 'seed-k3s',
        at,
        inventory: await listing(),
      });
    }
    const report = killLog.map((k) => `  kill ${k.run}: ${k.at}`).join('\n');
    process.stderr.write(`killed runs (${kills} kills, ${mutations} changing requests):\n${report}\n`);
    expect(kills, `only ${kills} kill points were reached:\n${report}`).toBe(KILLS);
    expect(killLog.filter((k) => k.layer === 'seed-infra').length).toBeGreaterThanOrEqual(8);
    expect(killLog.filter((k) => k.layer === 'seed-k3s').length).toBeGreaterThanOrEqual(5);

    // No kill left a second copy of anything.
    for (const k of killLog) {
      const dup = (Object.keys(ONE_SEED) as Array<keyof typeof ONE_SEED>).filter((key) => k.inventory[key] > 1);
      expect(dup, `duplicates after kill ${k.run} (${k.at})`).toEqual([]);
    }

    // The re-run converges: apply succeeds, exactly one of each, and a fresh plan has nothing to do.
    const last = finished ?? (await runCli(['apply', '--yes', ...sshKeyArgs()]));
    expect(last.code, last.lines.slice(-30).join('\n')).toBe(0);
    expect(await listing()).toMatchObject(ONE_SEED);
    const plan = await runCli(['plan', '--detailed-exitcode', ...sshKeyArgs()]);
    expect(plan.code, plan.lines.slice(-40).join('\n')).toBe(0);

    // destroy leaves nothing, by the same independent listing.
    const destroyed = await runCli(['destroy', '--yes', ...sshKeyArgs()]);
    expect(destroyed.code, destroyed.lines.slice(-30).join('\n')).toBe(0);
    expect(await listing()).toEqual(NOTHING);
    process.stderr.write(
      `killed runs: ${run} runs, converged and destroyed in ${((Date.now() - start) / 1000).toFixed(0)} s\n`,
    );
  });
});
