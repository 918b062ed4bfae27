/**
 * The CLI's run session against the real lab, through the committed bundle
 * (`node dist/cli/index.js`) and every real layer: two applies at once (the
 * second waits for the lock the first holds), a confirmation in a
 * pseudo-terminal that is refused because the environment changed before
 * the "yes", and a failed apply; after each, neither the seed's Lease nor
 * the OpenStack marker remains and the next apply starts at once.
 *
 * The environment is environments/lab under a unique name, on its own seed
 * host sandbox (its own K3s stand-in). Run this file under the lab lock.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeClient } from '../../src/kube/index.js';
import { lockName } from '../../src/lock/backends.js';
import {
  attachAnyVolume,
  CLI_BUNDLE,
  labSeedHost,
  seedKubeconfigFile,
  writeLabEnvironment,
} from '../helpers/e2e-lab.js';
import { labDir } from '../helpers/lab-parts.js';
import { LAB_CLOUDS, labClient, uniqueName } from '../helpers/seed-infra-lab.js';
import { scanForSecrets, labSecrets } from '../helpers/secret-scan.js';
import { Sandbox } from './ssh-sandbox.js';

interface Run {
  code: number | null;
  out: string;
}

describe('the CLI run session on the lab', () => {
  const name = uniqueName('cs');
  let sandbox: Sandbox;
  let tmp: string;
  let environmentsDir: string;
  let envFile: string;
  let original: string;
  let childEnv: NodeJS.ProcessEnv;
  const printed: Record<string, string> = {};

  const args = (extra: string[]) => [
    ...extra,
    '--env',
    name,
    '--environments-dir',
    environmentsDir,
    '--ssh-private-key-file',
    path.join(sandbox.dir, 'id_ed25519'),
  ];

  /** The CLI with pipes; `onOutput` sees the text so far and may answer on stdin. */
  function cli(
    argv: string[],
    o: { pty?: boolean; onOutput?: (text: string, stdin: NodeJS.WritableStream) => void } = {},
  ) {
    const cmd = [process.execPath, CLI_BUNDLE, ...args(argv)];
    // util-linux `script` gives the CLI a pseudo-terminal, as a person at a terminal has.
    const [file, fileArgs] = o.pty
      ? ['script', ['-qfec', cmd.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' '), '/dev/null']]
      : [cmd[0]!, cmd.slice(1)];
    const c = spawn(file, fileArgs, { cwd: tmp, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const take = (d: Buffer): void => {
      out += d.toString();
      o.onOutput?.(out, c.stdin);
    };
    c.stdout.on('data', take);
    c.stderr.on('data', take);
    return {
      pid: c.pid,
      done: new Promise<Run>((resolve, reject) => {
        c.once('error', reject);
        c.once('close', (code) => {
          printed[`${argv.join(' ')} #${Object.keys(printed).length}`] = out;
          resolve({ code, out });
        });
      }),
    };
  }

  const seedKube = () => createKubeClient(fs.readFileSync(seedKubeconfigFile(sandbox), 'utf8'));

  /** Neither lock place holds anything for this environment. */
  async function noLockLeft(when: string): Promise<void> {
    const lease = await seedKube().get({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      namespace: 'kube-system',
      name: lockName(name),
    });
    expect(lease?.metadata, `Lease after ${when}`).toBeUndefined();
    const markers = await labClient('lab').session.request('network', 'GET', '/security-groups', {
      query: { name: lockName(name) },
    });
    expect(markers.body.security_groups, `OpenStack marker after ${when}`).toEqual([]);
  }

  beforeAll(() => {
    sandbox = Sandbox.create('cs');
    attachAnyVolume(sandbox);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'capi-cli-session-'));
    environmentsDir = path.join(tmp, 'environments');
    const dir = writeLabEnvironment({
      environmentsDir,
      name,
      sandbox,
      seedHost: labSeedHost(),
      openstack: { cloud: 'lab', cloudsYamlFile: LAB_CLOUDS },
    });
    envFile = path.join(dir, 'environment.yaml');
    original = fs.readFileSync(envFile, 'utf8');
    childEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  });

  afterAll(async () => {
    try {
      if (environmentsDir) {
        fs.writeFileSync(envFile, original);
        const r = await cli(['destroy', '--yes']).done;
        if (r.code !== 0) process.stderr.write(`cli-session: destroy failed:\n${r.out.slice(-3000)}\n`);
      }
    } finally {
      sandbox?.remove();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('runs two applies at once one after the other: the second waits for the lock', { timeout: 900_000 }, async () => {
    const first = cli(['apply', '--yes', '--lock-timeout', '600']);
    // Let the first take the OpenStack marker before the second asks.
    await new Promise((r) => setTimeout(r, 1500));
    const second = cli(['apply', '--yes', '--lock-timeout', '600']);
    const [a, b] = await Promise.all([first.done, second.done]);
    expect(a.code, a.out.slice(-3000)).toBe(0);
    expect(b.code, b.out.slice(-3000)).toBe(0);
    expect(b.out).toMatch(new RegExp(`is held by \\S+ \\(capi-mgmt CLI, pid ${first.pid}\\); waiting`));
    expect(a.out).toMatch(/apply: \d+ change\(s\) made to/);
    expect(b.out).toContain(`apply: nothing to do, ${name} was already in the desired state.`);
    expect(`${a.out}\n${b.out}`).not.toMatch(/cleanup failed|releasing the lock failed/);
    await noLockLeft('two applies');
  });

  it('refuses in a terminal when the environment changed before the "yes", and changes nothing', async () => {
    // A pending change, so the CLI has something to ask about: SSH from 10.0.0.0/8 only.
    const cidrs = (c: string) => original.replace('0.0.0.0/0', c);
    fs.writeFileSync(envFile, cidrs('10.0.0.0/8'));
    let answered = false;
    const r = await cli(['apply'], {
      pty: true,
      onOutput: (text, stdin) => {
        if (answered || !text.includes('Type "yes" to apply')) return;
        answered = true;
        // Someone edits the environment while the question waits: the plan on screen is no longer the plan.
        fs.writeFileSync(envFile, cidrs('192.168.0.0/16'));
        stdin.write('yes\n');
      },
    }).done;
    fs.writeFileSync(envFile, original);
    expect(answered, r.out.slice(-3000)).toBe(true);
    expect(r.out).toContain('10.0.0.0/8'); // the plan it asked about
    expect(r.code, r.out.slice(-3000)).toBe(1);
    expect(r.out).toContain('the plan changed since you confirmed it');
    expect(r.out).toContain('192.168.0.0/16'); // the plan it refused, shown
    await noLockLeft('a refused apply');
    // Nothing changed: the original environment still plans as no change.
    const plan = await cli(['plan', '--detailed-exitcode']).done;
    expect(plan.code, plan.out.slice(-3000)).toBe(0);
  });

  it('leaves no lock after a failed apply, and the next apply starts at once', { timeout: 600_000 }, async () => {
    // A helm version the mirror does not have: seed-capi fails once the seed's Lease is held.
    fs.writeFileSync(envFile, original.replace(/helm: v3\.19\.5/, 'helm: v3.19.99'));
    const failed = await cli(['apply', '--yes']).done;
    fs.writeFileSync(envFile, original);
    expect(failed.code, failed.out.slice(-3000)).toBe(1);
    expect(failed.out).toMatch(/apply failed \(apply-failed\)/);
    expect(failed.out).toContain(`Lease kube-system/${lockName(name)} on the seed`);
    expect(failed.out).not.toMatch(/cleanup failed|releasing the lock failed/);
    await noLockLeft('a failed apply');
    const next = await cli(['apply', '--yes', '--lock-timeout', '0']).done;
    expect(next.code, next.out.slice(-3000)).toBe(0);
    expect(next.out).not.toContain('waiting');
  });

  it('printed no secret', () => {
    expect(scanForSecrets(labSecrets(labDir()), printed)).toEqual([]);
  });
});
