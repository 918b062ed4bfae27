/**
 * What the end-to-end lab tests share: an environment like environments/lab
 * under a unique name on its own seed host sandbox, the committed bundles
 * run as child processes, and the independent clients that make drift on
 * the seed host (the system `ssh`) and on its Kubernetes (the lab's
 * `kubectl`), never through the code under test.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { labDir, labExports, REPO_ROOT } from './lab-parts.js';
import type { EnvironmentNames } from './admin-openstack.js';
import type { Sandbox } from '../lab/ssh-sandbox.js';

export const CLI_BUNDLE = path.join(REPO_ROOT, 'dist/cli/index.js');
export const ACTION_BUNDLE = path.join(REPO_ROOT, 'dist/index.js');

/** The names an environment's resources carry, as the README documents them (not computed by the product). */
export const namesOf = (environment: string): EnvironmentNames => ({
  tag: `capi-mgmt:${environment}`,
  seedName: `capi-mgmt-${environment}-seed`,
  lockName: `capi-mgmt-${environment}-lock`,
});

export interface SeedHostAccess {
  host: string;
  port: number;
  user: string;
  /** `ssh-ed25519 AAAA...`, no comment. */
  hostKey: string;
}

export function labSeedHost(): SeedHostAccess {
  const lab = labExports();
  const hostKeyFile = lab.CAPI_LAB_SEED_HOST_KEY_FILE ?? path.join(labDir(), 'seed-host/host_key.pub');
  if (!lab.CAPI_LAB_SEED_SSH_PORT || !lab.CAPI_LAB_SEED_SSH_USER || !fs.existsSync(hostKeyFile))
    throw new Error(`the lab seed host is not up: ${labDir()}/env.d/seed-host.sh or ${hostKeyFile} is missing`);
  return {
    host: lab.CAPI_LAB_SEED_SSH_HOST ?? '127.0.0.1',
    port: Number(lab.CAPI_LAB_SEED_SSH_PORT),
    user: lab.CAPI_LAB_SEED_SSH_USER,
    hostKey: fs.readFileSync(hostKeyFile, 'utf8').trim().split(/\s+/).slice(0, 2).join(' '),
  };
}

function labMirrorUrl(): string {
  const url = labExports().CAPI_LAB_MIRROR_URL;
  if (!url) throw new Error(`the lab mirror is not up: CAPI_LAB_MIRROR_URL is not exported in ${labDir()}/env.d`);
  return url;
}

/**
 * environments/lab as a user would write it for this seed host: the same
 * settings, with this sandbox's key, the seed host's address and host key and
 * the mirror written out (no `${env:}` references: only real secrets are
 * secrets here). `openstack` replaces the lab's clouds.yaml reference.
 */
export function writeLabEnvironment(o: {
  environmentsDir: string;
  name: string;
  sandbox: Sandbox;
  seedHost: SeedHostAccess;
  openstack: Record<string, unknown>;
  extra?: Record<string, unknown>;
}): string {
  const env = parse(fs.readFileSync(path.join(REPO_ROOT, 'environments/lab/environment.yaml'), 'utf8')) as Record<
    string,
    Record<string, unknown>
  >;
  const mirror = labMirrorUrl();
  env.openstack = o.openstack;
  env.seed = {
    ...env.seed,
    sshPublicKey: fs.readFileSync(path.join(o.sandbox.dir, 'id_ed25519.pub'), 'utf8').trim(),
    ssh: {
      ...(env.seed!.ssh as Record<string, unknown>),
      address: o.seedHost.host,
      port: o.seedHost.port,
      user: o.seedHost.user,
      hostKey: o.seedHost.hostKey,
    },
  };
  env.mirrors = { binaries: mirror, manifests: mirror, charts: mirror };
  const dir = path.join(o.environmentsDir, o.name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'environment.yaml'), stringify({ ...env, ...o.extra }));
  return dir;
}

/** A sandbox for the lab's fake seed VM: whatever data volume the tool asks for is "attached". */
export function attachAnyVolume(sandbox: Sandbox): void {
  fs.appendFileSync(path.join(sandbox.dir, 'env.sh'), 'export CAPI_LAB_ATTACH_ANY_VOLUME=1\n');
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** The CLI's phase headings (`== apply seed-k3s`) with how long each took, in order. */
  phases: Array<[string, number]>;
}

export function runProcess(
  command: string,
  args: string[],
  o: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<ProcessResult> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: o.cwd, env: o.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const headings: Array<[string, number]> = [];
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => {
      const at = stderr.length;
      stderr += d.toString('utf8');
      const since = ((Date.now() - start) / 1000).toFixed(1).padStart(6);
      for (const m of stderr.slice(Math.max(0, stderr.lastIndexOf('\n', at - 1) + 1)).matchAll(/^(.*)\n/gm)) {
        if (m[1]!.startsWith('== ')) headings.push([m[1]!.slice(3), Date.now() - start]);
        // Each complete line once, with the seconds since the start: where a run spends its time.
        if (process.env.CAPI_TEST_VERBOSE) process.stderr.write(`[${since} s] ${m[1]}\n`);
      }
    });
    child.stdin.end(o.input ?? '');
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const ms = Date.now() - start;
      const phases = headings.map(([h, t], i): [string, number] => [h, (headings[i + 1]?.[1] ?? ms) - t]);
      resolve({ code, signal, stdout, stderr, ms, phases });
    });
  });
}

/** A bounded tail of a run's output, for assertion messages. */
export const tail = (r: ProcessResult, lines = 40): string =>
  `exit ${r.code ?? r.signal}\n--- stdout\n${r.stdout.split('\n').slice(-lines).join('\n')}\n--- stderr\n${r.stderr
    .split('\n')
    .slice(-lines)
    .join('\n')}`;

/** A command on the seed host, through the system OpenSSH client with the sandbox's key and the pinned host key. */
export function seedShell(sandbox: Sandbox, host: SeedHostAccess, command: string): Promise<ProcessResult> {
  const knownHosts = path.join(sandbox.dir, 'e2e_known_hosts');
  fs.writeFileSync(knownHosts, `[${host.host}]:${host.port} ${host.hostKey}\n`);
  return runProcess(
    'ssh',
    [
      '-F',
      '/dev/null',
      '-i',
      path.join(sandbox.dir, 'id_ed25519'),
      '-p',
      String(host.port),
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      `${host.user}@${host.host}`,
      command,
    ],
    { env: { PATH: process.env.PATH, HOME: process.env.HOME } },
  );
}

/** The seed's Kubernetes as the lab's K3s stand-in wrote its kubeconfig (reachable directly on loopback). */
export const seedKubeconfigFile = (sandbox: Sandbox): string => path.join(sandbox.root, 'etc/rancher/k3s/k3s.yaml');

/** The lab's kubectl against the seed's Kubernetes. */
export function seedKubectl(sandbox: Sandbox, args: string[]): Promise<ProcessResult> {
  const kubectl = labExports().CAPI_LAB_KUBECTL;
  if (!kubectl || !fs.existsSync(kubectl))
    throw new Error(`the Kubernetes lab is not up: CAPI_LAB_KUBECTL is not exported in ${labDir()}/env.d`);
  return runProcess(kubectl, ['--kubeconfig', seedKubeconfigFile(sandbox), '--request-timeout=20s', ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
}

/** Wall time of each step, printed at the end of a test file. */
export class StepTimes {
  private readonly steps: Array<[string, number]> = [];
  private readonly start = Date.now();

  add(step: string, ms: number, phases: Array<[string, number]> = []): void {
    this.steps.push([step, ms]);
    for (const [p, t] of phases) this.steps.push([`    ${p}`, t]);
  }

  async time<T>(step: string, fn: () => Promise<T>): Promise<T> {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      this.add(step, Date.now() - t);
    }
  }

  report(title: string): string {
    const total = (Date.now() - this.start) / 1000;
    const rows = this.steps.map(([s, ms]) => `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${s}`);
    return `${title}: ${total.toFixed(0)} s\n${rows.join('\n')}\n`;
  }
}

/** With CAPI_E2E_LOG_DIR set, every captured output is kept there as a file, for a look after the run. */
export function keepLogs(prefix: string, texts: Record<string, string | Buffer>): void {
  const dir = process.env.CAPI_E2E_LOG_DIR;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(texts))
    fs.writeFileSync(path.join(dir, `${prefix}-${name.replace(/[^A-Za-z0-9.-]+/g, '_')}.txt`), text);
}
