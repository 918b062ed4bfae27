/**
 * A loopback download mirror for tests and the lab. It serves what the
 * product downloads on a real runner at the paths of the product's own
 * sources table (src/tools/sources.ts), under its base URL, so `mirrors:`
 * in config can point at it:
 *
 *   binaries and manifests  at the table's path (and its checksum list)
 *   charts                  /index.yaml, /<chart>-<v>.tgz (one Helm repository)
 *
 * The Cluster API, CAPO and ORC manifests are the real ones: rendered by
 * test/lab/capi/manifests.sh from the pinned modules (CAPI_LAB_CAPI_MANIFESTS
 * in the lab's env). Their second, later version (for upgrade tests) is the
 * pinned release's text with its tag replaced: no later release is built.
 * Charts come from __tests__/fixtures/mirror (chart sources written for this
 * project) or, where it has one, test/lab/charts (the lab's own stand-ins,
 * e.g. openstack-cluster), packaged with helm at start. helm itself is the
 * lab-built binary, packaged the way upstream packages it; K3s is the seed
 * host's stand-in script.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { checksumPath, filePath } from '../../../src/tools/sources.js';
import { DEFAULT_VERSIONS } from '../../../src/model/versions.js';
import { labEnv } from './lab.js';
import { SOURCES, type BinarySourceId, type ManifestSourceId, type SourceId } from '../../../src/model/sources.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
export const FIXTURES_DIR = resolve(here, '../../../__tests__/fixtures/mirror');
/** Charts the lab serves in place of fixtures: full stand-ins (see each one's README). */
export const LAB_CHARTS_DIR = resolve(here, '../charts');

/** The versions served per source id (none for a source without fixtures); `helm` is the lab helm's. */
type FixtureVersions = Record<SourceId, string[]>;

export interface MirrorOptions {
  /** The helm binary used to package charts and served as the helm download. */
  helm: string;
  fixturesDir?: string;
  /** The real provider manifests (test/lab/capi/manifests.sh); default: CAPI_LAB_CAPI_MANIFESTS of the lab. */
  capiManifests?: string;
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

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

async function helmVersionOf(helm: string): Promise<string> {
  const { stdout } = await run(helm, ['version', '--short']);
  const m = /v\d+\.\d+(\.\d+)?/.exec(stdout);
  if (!m) throw new Error(`cannot read the version of ${helm}: ${stdout}`);
  return m[1] ? m[0] : `${m[0]}.0`;
}

/** The server matches decoded paths; the table spells tags URL-encoded. */
const served = (path: string): string => `/${decodeURIComponent(path)}`;

/** A file source's path, and its checksum list listing `body` (plus `extra` lines, as upstream lists more). */
function addFile(
  files: Map<string, Buffer>,
  id: BinarySourceId | ManifestSourceId,
  version: string,
  body: Buffer,
  platform: { os?: string; arch?: string },
  extra: string[] = [],
): void {
  files.set(served(filePath(id, version, platform)), body);
  const sum = checksumPath(id, version, platform);
  if (sum) files.set(served(sum.path), Buffer.from([...extra, `${sha256(body)}  ${sum.name}`, ''].join('\n')));
}

function capiManifestsDir(o: MirrorOptions): string {
  const dir = o.capiManifests ?? process.env.CAPI_LAB_CAPI_MANIFESTS ?? labEnv().CAPI_LAB_CAPI_MANIFESTS;
  if (!dir) {
    throw new Error(
      'the lab Cluster API is not set up: CAPI_LAB_CAPI_MANIFESTS is not exported (run test/lab/up.sh, which renders the real manifests with test/lab/capi/manifests.sh)',
    );
  }
  return dir;
}

/**
 * A provider's real release manifest at version `v`. Only the pinned release
 * is rendered; another version is that text with the tag replaced (a stand-in
 * for the next patch release, which upgrade tests install).
 */
async function realManifest(dir: string, id: ManifestSourceId, v: string): Promise<string> {
  const pinned = DEFAULT_VERSIONS[SOURCES[id].pin];
  const file = join(dir, filePath(id, pinned, {}));
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new Error(`the lab's real ${id} manifest is missing: ${file} (re-run test/lab/capi/manifests.sh)`);
  }
  return v === pinned ? text : text.replaceAll(pinned, v);
}

/** Build every file the mirror serves, keyed by decoded URL path. */
async function buildContent(o: MirrorOptions, work: string) {
  const fixtures = o.fixturesDir ?? FIXTURES_DIR;
  const listed = JSON.parse(await readFile(join(fixtures, 'versions.json'), 'utf8')) as Partial<FixtureVersions>;
  const versions = Object.fromEntries(
    Object.keys(SOURCES).map((id) => [id, listed[id as SourceId] ?? []]),
  ) as FixtureVersions;
  for (const id of Object.keys(listed)) {
    if (!(id in SOURCES)) throw new Error(`${join(fixtures, 'versions.json')}: "${id}" is no source in the sources table`);
  }
  const files = new Map<string, Buffer>();
  const repo = join(work, 'repo');
  await mkdir(repo);
  const standin = await readFile(join(here, '..', 'seed-host', 'k3s-standin.sh'), 'utf8');

  for (const [key, source] of Object.entries(SOURCES)) {
    const id = key as SourceId;
    for (const v of versions[id]) {
      if (source.kind === 'manifest') {
        const manifest = await realManifest(capiManifestsDir(o), id as ManifestSourceId, v);
        addFile(files, id as ManifestSourceId, v, Buffer.from(manifest), {});
      } else if (source.kind === 'chart') {
        const lab = join(LAB_CHARTS_DIR, source.chart);
        const dir = existsSync(lab) ? lab : join(fixtures, 'charts', source.chart);
        await run(o.helm, ['package', dir, '--version', v, '--app-version', v, '-d', repo]);
      } else if (id === 'k3s') {
        // The seed host's K3s stand-in, with its version baked in as make-k3s.sh does.
        const k3s = Buffer.from(standin.replaceAll('@K3S_VERSION@', v));
        addFile(files, 'k3s', v, k3s, { arch: 'amd64' }, [`${sha256(`airgap ${v}`)}  k3s-airgap-images-amd64.tar.zst`]);
      } else {
        throw new Error(`versions.json lists ${id}: the mirror serves only the lab's own ${id}`);
      }
    }
  }
  await run(o.helm, ['repo', 'index', repo]);
  for (const f of await readdir(repo)) files.set(`/${f}`, await readFile(join(repo, f)));

  const helmVersion = await helmVersionOf(o.helm);
  versions.helm = [helmVersion];
  const platform = { os: process.platform, arch: process.arch === 'x64' ? 'amd64' : process.arch };
  const dirName = `${platform.os}-${platform.arch}`;
  const pkg = join(work, 'helm-pkg');
  await mkdir(join(pkg, dirName), { recursive: true });
  await cp(o.helm, join(pkg, dirName, 'helm'));
  const tgz = join(work, 'helm.tar.gz');
  await run('tar', ['-czf', tgz, '-C', pkg, dirName]);
  addFile(files, 'helm', helmVersion, await readFile(tgz), platform);
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
