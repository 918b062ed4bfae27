/**
 * The helm CLI behind the `Helm` interface. Every call gets the kubeconfig
 * and values through 0600 temp files, so no secret is ever an argument.
 */
import { spawn } from 'node:child_process';
import { stringify } from 'yaml';
import { chartArgs, describeChart, splitChartLabel, type ChartRef } from './chart.js';
import { withPrivateDir } from './tempfiles.js';
import { checkMinimum, featureMinimum, parseHelmVersion, supports, type HelmFeature } from './version.js';

export interface ReleaseInfo {
  name: string;
  namespace: string;
  revision: number;
  /** deployed, failed, pending-install, pending-upgrade, ... */
  status: string;
  chart: string;
  chartVersion: string;
  appVersion: string;
}

export interface UpgradeOptions {
  release: string;
  namespace: string;
  chart: ChartRef;
  /** Values documents, later ones win; each travels as a 0600 file. */
  values?: readonly Record<string, unknown>[];
  createNamespace?: boolean;
  /** Roll back (or uninstall a first install) when the upgrade fails. */
  atomic?: boolean;
  wait?: boolean;
  waitForJobs?: boolean;
  timeoutMs?: number;
  skipSchemaValidation?: boolean;
}

export interface Helm {
  readonly binary: string;
  /** e.g. `3.19.0`; checks the minimum on first use. */
  version(): Promise<string>;
  upgradeInstall(o: UpgradeOptions): Promise<ReleaseInfo>;
  /** undefined when there is no such release. */
  status(release: string, namespace: string): Promise<ReleaseInfo | undefined>;
  /** User-supplied values of the deployed release ({} when none). */
  getValues(release: string, namespace: string): Promise<Record<string, unknown>>;
  uninstall(release: string, namespace: string, o?: { wait?: boolean; timeoutMs?: number }): Promise<boolean>;
}

export interface HelmOptions {
  binary: string;
  kubeconfig: string;
  log?: { info(m: string): void; warn(m: string): void; debug(m: string): void };
  /** Extra environment (e.g. HELM_CACHE_HOME in tests). */
  env?: Record<string, string>;
  /** Parent of the private directory for values and the kubeconfig (default: the OS temp dir). */
  tempDir?: string;
}

export class HelmError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'HelmError';
  }
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(binary: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs?: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = timeoutMs ? setTimeout(() => child.kill('SIGTERM'), timeoutMs) : undefined;
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${binary}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

const seconds = (ms: number): string => `${Math.ceil(ms / 1000)}s`;

export function createHelm(o: HelmOptions): Helm {
  return new HelmCli(o);
}

class HelmCli implements Helm {
  private versionPromise?: Promise<string>;
  private readonly warned = new Set<HelmFeature>();

  constructor(private readonly o: HelmOptions) {}

  get binary(): string {
    return this.o.binary;
  }

  private env(): NodeJS.ProcessEnv {
    // KUBECONFIG from the caller's shell must never pick the cluster.
    const env: NodeJS.ProcessEnv = { ...process.env, ...this.o.env };
    delete env.KUBECONFIG;
    return env;
  }

  /** Run with `--kubeconfig <temp file>` and any extra private files. */
  private async exec(args: string[], files: Record<string, string> = {}, timeoutMs?: number): Promise<RunResult> {
    return withPrivateDir(this.o.tempDir, async (write) => {
      const kubeconfig = await write('kubeconfig', this.o.kubeconfig);
      const paths: Record<string, string> = {};
      for (const [name, text] of Object.entries(files)) paths[name] = await write(name, text);
      const full = args.flatMap((a) => (a.startsWith('@file:') ? [paths[a.slice(6)]!] : [a]));
      this.o.log?.debug(`helm ${full.join(' ')}`);
      return run(this.o.binary, [...full, '--kubeconfig', kubeconfig], this.env(), timeoutMs);
    });
  }

  version(): Promise<string> {
    this.versionPromise ??= (async () => {
      const r = await run(this.o.binary, ['version', '--short'], this.env());
      if (r.code !== 0) throw new HelmError(`helm version failed: ${r.stderr.trim()}`, r.stderr);
      const v = parseHelmVersion(r.stdout);
      checkMinimum(v);
      return v;
    })();
    return this.versionPromise;
  }

  /** A wanted feature this helm lacks is dropped with one warning. */
  private async can(feature: HelmFeature, what: string): Promise<boolean> {
    const v = await this.version();
    if (supports(v, feature)) return true;
    if (!this.warned.has(feature)) {
      this.warned.add(feature);
      this.o.log?.warn(`helm ${v} has no ${what} (needs ${featureMinimum(feature)}); continuing without it`);
    }
    return false;
  }

  async upgradeInstall(u: UpgradeOptions): Promise<ReleaseInfo> {
    const v = await this.version();
    await this.recoverInterrupted(u.release, u.namespace);
    const args = ['upgrade', '--install', u.release, ...chartArgs(u.chart), '--namespace', u.namespace];
    const files: Record<string, string> = {};
    (u.values ?? []).forEach((doc, i) => {
      files[`values-${i}.yaml`] = stringify(doc);
      args.push('--values', `@file:values-${i}.yaml`);
    });
    if (u.createNamespace) args.push('--create-namespace');
    if (u.atomic) args.push(supports(v, 'rollbackOnFailureFlag') ? '--rollback-on-failure' : '--atomic');
    if (u.wait) args.push('--wait');
    if (u.waitForJobs && (await this.can('waitForJobs', '--wait-for-jobs'))) args.push('--wait-for-jobs');
    if (u.skipSchemaValidation && (await this.can('skipSchemaValidation', '--skip-schema-validation'))) {
      args.push('--skip-schema-validation');
    }
    if (u.timeoutMs) args.push('--timeout', seconds(u.timeoutMs));
    this.o.log?.info(`helm upgrade --install ${u.release} (${describeChart(u.chart)}) in ${u.namespace}`);
    const r = await this.exec(args, files, u.timeoutMs ? u.timeoutMs + 60_000 : undefined);
    if (r.code !== 0) {
      throw new HelmError(`helm upgrade --install ${u.release} failed: ${lastLines(r.stderr)}`, r.stderr);
    }
    const info = await this.status(u.release, u.namespace);
    if (!info) throw new Error(`helm reported success but release ${u.namespace}/${u.release} is not listed`);
    return info;
  }

  /**
   * A run killed mid-operation leaves the release `pending-*`, and helm then
   * refuses every upgrade ("another operation is in progress"). Nothing else
   * operates on our releases, so a pending one is a leftover: roll it back
   * (or remove a first install that never finished) and carry on.
   */
  private async recoverInterrupted(release: string, namespace: string): Promise<void> {
    const current = await this.status(release, namespace);
    if (!current?.status.startsWith('pending-')) return;
    this.o.log?.warn(`release ${namespace}/${release} was left ${current.status} by an interrupted run; recovering`);
    const args =
      current.status === 'pending-install' || current.revision <= 1
        ? ['uninstall', release, '--namespace', namespace]
        : ['rollback', release, '--namespace', namespace];
    const r = await this.exec(args);
    if (r.code !== 0) throw new HelmError(`helm ${args[0]} ${release} failed: ${lastLines(r.stderr)}`, r.stderr);
  }

  async status(release: string, namespace: string): Promise<ReleaseInfo | undefined> {
    // `helm list` gives chart name and version in one call and says nothing when absent.
    const r = await this.exec(['list', '--namespace', namespace, '--all', '--filter', `^${release}$`, '-o', 'json']);
    if (r.code !== 0) throw new HelmError(`helm list in ${namespace} failed: ${lastLines(r.stderr)}`, r.stderr);
    const rows = JSON.parse(r.stdout || '[]') as Array<Record<string, unknown>>;
    const row = rows.find((x) => x.name === release);
    if (!row) return undefined;
    const chart = splitChartLabel(String(row.chart ?? ''));
    return {
      name: release,
      namespace,
      revision: Number(row.revision ?? 0),
      status: String(row.status ?? 'unknown'),
      chart: chart.name,
      chartVersion: chart.version,
      appVersion: String(row.app_version ?? ''),
    };
  }

  async getValues(release: string, namespace: string): Promise<Record<string, unknown>> {
    const r = await this.exec(['get', 'values', release, '--namespace', namespace, '-o', 'json']);
    if (r.code !== 0) throw new HelmError(`helm get values ${release} failed: ${lastLines(r.stderr)}`, r.stderr);
    const v = JSON.parse(r.stdout || 'null') as Record<string, unknown> | null;
    return v ?? {};
  }

  async uninstall(release: string, namespace: string, o: { wait?: boolean; timeoutMs?: number } = {}) {
    if (!(await this.status(release, namespace))) return false;
    const args = ['uninstall', release, '--namespace', namespace];
    if (o.wait) args.push('--wait');
    if (o.timeoutMs) args.push('--timeout', seconds(o.timeoutMs));
    const r = await this.exec(args);
    if (r.code !== 0) throw new HelmError(`helm uninstall ${release} failed: ${lastLines(r.stderr)}`, r.stderr);
    return true;
  }
}

function lastLines(text: string, n = 5): string {
  return text.trim().split('\n').slice(-n).join('\n') || '(no output)';
}
