/**
 * A loopback download mirror for tests and the lab. It serves what the
 * product downloads on a real runner, with the upstream path layout under
 * its base URL (so `mirrors:` in config can point at it):
 *
 *   /kubernetes-sigs/cluster-api/releases/download/<v>/cluster-api-components.yaml
 *   /k-orc/openstack-resource-controller/releases/download/<v>/install.yaml
 *   /kubernetes-sigs/cluster-api-provider-openstack/releases/download/<v>/infrastructure-components.yaml
 *   /index.yaml, /<chart>-<v>.tgz                       (one Helm repository)
 *   /helm-<v>-<os>-<arch>.tar.gz(.sha256sum)            (get.helm.sh layout)
 *   /k3s-io/k3s/releases/download/<v>/k3s, sha256sum-amd64.txt
 *
 * Content comes from __tests__/fixtures/mirror: small manifests and chart
 * sources written for this project, packaged with helm at start. helm
 * itself is the lab-built binary, packaged the way upstream packages it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
export const FIXTURES_DIR = resolve(here, '../../../__tests__/fixtures/mirror');

export interface FixtureVersions {
  capi: string[];
  orc: string[];
  capo: string[];
  'cert-manager': string[];
  'cluster-api-addon-provider': string[];
  'cluster-api-janitor-openstack': string[];
  k3s: string[];
}

export interface MirrorOptions {
  /** The helm binary used to package charts and served as the helm download. */
  helm: string;
  fixturesDir?: string;
  port?: number;
}

export interface Mirror {
  url: string;
  versions: FixtureVersions;
  /** The helm version served (that of the lab helm), e.g. `v3.19.0`. */
  helmVersion: string;
  /** Every request path, in order (to prove caching: a cached fetch makes none). */
  requests: string[];
  /** Replace (or with null, remove) what a path serves, e.g. to corrupt a download. */
  override(path: string, body: string | Buffer | null): void;
  /** Forget overrides. */
  reset(): void;
  close(): Promise<void>;
}

const MANIFESTS: Record<'capi' | 'orc' | 'capo', { repo: string; file: string }> = {
  capi: { repo: 'kubernetes-sigs/cluster-api', file: 'cluster-api-components.yaml' },
  orc: { repo: 'k-orc/openstack-resource-controller', file: 'install.yaml' },
  capo: { repo: 'kubernetes-sigs/cluster-api-provider-openstack', file: 'infrastructure-components.yaml' },
};
const CHARTS = ['cert-manager', 'cluster-api-addon-provider', 'cluster-api-janitor-openstack'] as const;

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

async function helmVersionOf(helm: string): Promise<string> {
  const { stdout } = await run(helm, ['version', '--short']);
  const m = /v\d+\.\d+(\.\d+)?/.exec(stdout);
  if (!m) throw new Error(`cannot read the version of ${helm}: ${stdout}`);
  return m[1] ? m[0] : `${m[0]}.0`;
}

/** Build every file the mirror serves, keyed by decoded URL path. */
async function buildContent(o: MirrorOptions, work: string) {
  const fixtures = o.fixturesDir ?? FIXTURES_DIR;
  const versions = JSON.parse(await readFile(join(fixtures, 'versions.json'), 'utf8')) as FixtureVersions;
  const files = new Map<string, Buffer>();

  for (const [component, m] of Object.entries(MANIFESTS) as Array<
    [keyof typeof MANIFESTS, { repo: string; file: string }]
  >) {
    const tpl = await readFile(join(fixtures, 'manifests', `${component}.yaml.tpl`), 'utf8');
    for (const v of versions[component]) {
      files.set(`/${m.repo}/releases/download/${v}/${m.file}`, Buffer.from(tpl.replaceAll('__VERSION__', v)));
    }
  }

  const repo = join(work, 'repo');
  await mkdir(repo);
  for (const chart of CHARTS) {
    for (const v of versions[chart]) {
      await run(o.helm, ['package', join(fixtures, 'charts', chart), '--version', v, '--app-version', v, '-d', repo]);
    }
  }
  await run(o.helm, ['repo', 'index', repo]);
  for (const f of await readdir(repo)) files.set(`/${f}`, await readFile(join(repo, f)));

  const helmVersion = await helmVersionOf(o.helm);
  const os = process.platform;
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const pkg = join(work, 'helm-pkg');
  await mkdir(join(pkg, `${os}-${arch}`), { recursive: true });
  await cp(o.helm, join(pkg, `${os}-${arch}`, 'helm'));
  const tgzName = `helm-${helmVersion}-${os}-${arch}.tar.gz`;
  await run('tar', ['-czf', join(work, tgzName), '-C', pkg, `${os}-${arch}`]);
  const tgz = await readFile(join(work, tgzName));
  files.set(`/${tgzName}`, tgz);
  files.set(`/${tgzName}.sha256sum`, Buffer.from(`${sha256(tgz)}  ${tgzName}\n`));

  const standin = await readFile(join(here, '..', 'seed-host', 'k3s-standin.sh'), 'utf8');
  for (const v of versions.k3s) {
    // The seed host's K3s stand-in, with its version baked in as make-k3s.sh does.
    const k3s = Buffer.from(standin.replaceAll('@K3S_VERSION@', v));
    const base = `/k3s-io/k3s/releases/download/${v}`;
    files.set(`${base}/k3s`, k3s);
    const airgap = sha256(`airgap ${v}`);
    files.set(
      `${base}/sha256sum-amd64.txt`,
      Buffer.from(`${airgap}  k3s-airgap-images-amd64.tar.zst\n${sha256(k3s)}  k3s\n`),
    );
  }
  return { files, versions, helmVersion };
}

export async function startMirror(o: MirrorOptions): Promise<Mirror> {
  const work = await mkdtemp(join(tmpdir(), 'capi-mgmt-mirror-'));
  await chmod(work, 0o700);
  const { files, versions, helmVersion } = await buildContent(o, work);
  const overrides = new Map<string, Buffer | null>();
  const requests: string[] = [];

  const server: Server = createServer((req, res) => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://mirror').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    requests.push(path);
    const body = overrides.has(path) ? overrides.get(path) : files.get(path);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    const type = path.endsWith('.yaml')
      ? 'application/yaml'
      : path.endsWith('.txt') || path.endsWith('sum')
        ? 'text/plain'
        : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type, 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(o.port ?? 0, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  await rm(work, { recursive: true, force: true });

  return {
    url: `http://127.0.0.1:${port}`,
    versions,
    helmVersion,
    requests,
    override: (path, body) => overrides.set(path, body === null ? null : Buffer.from(body)),
    reset: () => overrides.clear(),
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
