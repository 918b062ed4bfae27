/**
 * The parts of the lab and how to tell each one answers. The lab tests
 * require all of them: a part that does not answer makes every lab test
 * fail with its name and how to start it, never skip.
 *
 * No vitest in here: the bench and scripts use it too.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parse } from 'yaml';
import { createKubeClient } from '../../src/kube/index.js';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const START_HINT = 'start the lab with `npm run lab:up`';

/** Where the lab keeps its state: `$CAPI_LAB_DIR`, else `.lab/` at the repo root. */
export function labDir(): string {
  return process.env.CAPI_LAB_DIR ?? path.join(REPO_ROOT, '.lab');
}

export const labCloudsPath = (): string => path.join(labDir(), 'clouds.yaml');

const LAB_PARTS = ['openstack', 'kube-seed', 'kube-mgmt', 'seed-ssh', 'mirror', 'cluster-api'] as const;
export type LabPart = (typeof LAB_PARTS)[number];

export const PART_NAMES: Record<LabPart, string> = {
  openstack: 'OpenStack (Keystone)',
  'kube-seed': 'Kubernetes seed stand-in (lab cluster "seed")',
  'kube-mgmt': 'management cluster stand-in (lab cluster "mgmt")',
  'seed-ssh': 'seed host SSH (lab sshd)',
  mirror: 'download mirror',
  'cluster-api': 'real Cluster API (release manifests, managers supervisor, boot simulator; test/lab/capi)',
};

/**
 * The lab's exports: `env` (all parts, written when the lab came up) under
 * `env.d/*.sh` (each part's own, rewritten as parts change). The probes
 * check that whatever they name really answers.
 */
export function labExports(): Record<string, string> {
  const dir = path.join(labDir(), 'env.d');
  const files = [path.join(labDir(), 'env')];
  if (fs.existsSync(dir))
    files.push(
      ...fs
        .readdirSync(dir)
        .filter((n) => n.endsWith('.sh'))
        .sort()
        .map((n) => path.join(dir, n)),
    );
  const out: Record<string, string> = {};
  for (const f of files.filter((x) => fs.existsSync(x))) {
    for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
      const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
      if (m) out[m[1]!] = m[2]!.replace(/^'(.*)'$/, '$1');
    }
  }
  return out;
}

/** What a probe found: `ok`, or why the part cannot be reached. */
export type PartStatus = { ok: true; detail: string } | { ok: false; detail: string };
export type LabStatus = Record<LabPart, PartStatus>;

const PROBE_TIMEOUT_MS = 20_000;
const ATTEMPTS = 3;

class NotConfigured extends Error {}

async function keystone(): Promise<string> {
  const file = labCloudsPath();
  if (!fs.existsSync(file)) throw new NotConfigured(`${file} does not exist`);
  const doc = parse(fs.readFileSync(file, 'utf8')) as { clouds?: Record<string, { auth?: { auth_url?: string } }> };
  const url = doc.clouds?.lab?.auth?.auth_url;
  if (!url) throw new NotConfigured(`${file} has no cloud "lab" with an auth_url`);
  const r = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  if (!r.ok) throw new Error(`${url} answered HTTP ${r.status}`);
  return url;
}

function exported(name: string): string {
  const v = labExports()[name];
  if (!v) throw new NotConfigured(`${name} is not exported by ${labDir()}/env or env.d/*.sh`);
  return v;
}

async function kube(cluster: string): Promise<string> {
  const file = exported(`CAPI_LAB_KUBECONFIG_${cluster.toUpperCase()}`);
  if (!fs.existsSync(file)) throw new NotConfigured(`${file} does not exist`);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the API server did not answer in time')), PROBE_TIMEOUT_MS);
  });
  try {
    await Promise.race([createKubeClient(fs.readFileSync(file, 'utf8')).serverVersion(), timeout]);
  } finally {
    clearTimeout(timer);
  }
  return file;
}

/** The lab sshd answers with an SSH banner. */
async function sshBanner(): Promise<string> {
  const host = labExports().CAPI_LAB_SEED_SSH_HOST ?? '127.0.0.1';
  const port = Number(exported('CAPI_LAB_SEED_SSH_PORT'));
  const banner = await new Promise<string>((resolve, reject) => {
    const s = net.connect({ host, port });
    s.setTimeout(PROBE_TIMEOUT_MS, () => s.destroy(new Error('no SSH banner in time')));
    s.once('data', (d: Buffer) => {
      s.end();
      resolve(d.toString('utf8').split('\r\n')[0]!);
    });
    s.once('error', reject);
  });
  if (!banner.startsWith('SSH-2.0-')) throw new Error(`${host}:${port} answered "${banner.slice(0, 40)}", not SSH`);
  return `${host}:${port}`;
}

async function mirror(): Promise<string> {
  const url = exported('CAPI_LAB_MIRROR_URL');
  const r = await fetch(`${url}/index.yaml`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  if (!r.ok) throw new Error(`${url}/index.yaml answered HTTP ${r.status}`);
  return url;
}

/** The rendered release manifests exist and the managers' supervisor runs (test/lab/capi/run.sh supervise). */
async function clusterApi(): Promise<string> {
  const manifests = exported('CAPI_LAB_CAPI_MANIFESTS');
  if (!fs.existsSync(manifests)) throw new NotConfigured(`${manifests} (the rendered manifests) does not exist`);
  const pidFile = path.join(labDir(), 'capi', 'supervisor.pid');
  if (!fs.existsSync(pidFile)) throw new NotConfigured(`${pidFile} does not exist: the managers' supervisor never ran`);
  const pid = fs.readFileSync(pidFile, 'utf8').trim();
  let cmdline = '';
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    // gone: reported below
  }
  if (!cmdline.includes('capi-lab-supervisor'))
    throw new NotConfigured(`the managers' supervisor (pid ${pid}) is not running`);
  return manifests;
}

const PROBES: Record<LabPart, () => Promise<string>> = {
  openstack: keystone,
  'kube-seed': () => kube('seed'),
  'kube-mgmt': () => kube('mgmt'),
  'seed-ssh': sshBanner,
  mirror,
  'cluster-api': clusterApi,
};

const reason = (e: unknown): string => {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  return err.cause?.code ?? err.cause?.message ?? err.message;
};

/** Probe one part, a few times: a slow answer on a loaded machine is not a missing part. */
export async function probePart(part: LabPart): Promise<PartStatus> {
  let last = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      return { ok: true, detail: await PROBES[part]() };
    } catch (e) {
      if (e instanceof NotConfigured) return { ok: false, detail: e.message };
      last = reason(e);
      if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
  return { ok: false, detail: last };
}

export async function probeLab(): Promise<LabStatus> {
  const results = await Promise.all(LAB_PARTS.map(async (p) => [p, await probePart(p)] as const));
  return Object.fromEntries(results) as LabStatus;
}

/** One message naming every part that did not answer; undefined when all did. */
export function missingParts(status: LabStatus): string | undefined {
  const missing = LAB_PARTS.filter((p) => !status[p].ok);
  if (missing.length === 0) return undefined;
  const lines = missing.map((p) => `  - ${PART_NAMES[p]}: ${status[p].detail}`);
  return `the lab is required and ${missing.length} part(s) of it cannot be reached:\n${lines.join('\n')}\n${START_HINT} (or set CAPI_LAB_SKIP=1 to leave the lab tests out explicitly)`;
}

/** For helpers: a clear error when a file the lab writes is not there. */
export function labFile(part: LabPart, file: string): string {
  if (!fs.existsSync(file))
    throw new Error(`lab part ${PART_NAMES[part]} is not up: ${file} does not exist; ${START_HINT}`);
  return file;
}
