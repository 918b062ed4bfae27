/**
 * What lab tests of the kube/helm/tools/seed-capi boundaries need from the
 * lab: its exported settings (.lab/env.d/*.sh) and dedicated clusters
 * started and stopped through test/lab/k8s/{up,down}.sh.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const LAB_DIR = process.env.CAPI_LAB_DIR ?? join(REPO_ROOT, '.lab');

/** `export NAME=value` lines of every .lab/env.d/*.sh file (values as bash %q prints simple paths). */
export function labEnv(): Record<string, string> {
  const dir = join(LAB_DIR, 'env.d');
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.sh'))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
      if (m) out[m[1]!] = m[2]!.replace(/^'(.*)'$/, '$1').replace(/\\(.)/g, '$1');
    }
  }
  return out;
}

/** The lab's helm; a clear error when the Kubernetes lab is not up. */
export function labHelm(): string {
  const helm = process.env.CAPI_LAB_HELM ?? labEnv().CAPI_LAB_HELM;
  if (!helm || !existsSync(helm)) {
    throw new Error('the Kubernetes lab is not up: run test/lab/k8s/up.sh (CAPI_LAB_HELM is not set)');
  }
  return helm;
}

/** Kubeconfig text of a running lab cluster (default `seed`). */
export function labKubeconfig(name = 'seed'): string {
  const key = `CAPI_LAB_KUBECONFIG_${name.toUpperCase().replace(/-/g, '_')}`;
  const path = process.env[key] ?? labEnv()[key];
  if (!path || !existsSync(path)) throw new Error(`lab cluster "${name}" is not up: run test/lab/k8s/up.sh ${name}`);
  return readFileSync(path, 'utf8');
}

/** Start (or check) a dedicated lab cluster; `fresh` purges its old state first. Returns kubeconfig text. */
export async function startLabCluster(name: string, o: { fresh?: boolean } = {}): Promise<string> {
  const k8s = join(REPO_ROOT, 'test/lab/k8s');
  if (o.fresh) await run(join(k8s, 'down.sh'), ['--purge', name], { cwd: REPO_ROOT });
  const { stdout } = await run(join(k8s, 'up.sh'), [name], { cwd: REPO_ROOT, maxBuffer: 16 << 20 });
  const last = stdout.trim().split('\n').pop() ?? '';
  const path = last.split(' ')[1];
  if (!path || !existsSync(path)) throw new Error(`up.sh ${name} printed no kubeconfig: ${last}`);
  return readFileSync(path, 'utf8');
}

export async function stopLabCluster(name: string, o: { purge?: boolean } = {}): Promise<void> {
  await run(join(REPO_ROOT, 'test/lab/k8s/down.sh'), [...(o.purge ? ['--purge'] : []), name], { cwd: REPO_ROOT });
}
