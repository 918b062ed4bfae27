/**
 * Helpers for seed-infra tests against the lab: environments under unique
 * names, an engine with only seed-infra, and an inventory of what exists,
 * read with the admin cloud (all projects), so leaks and duplicates show.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { loadEnvironment, type LoadedEnvironment } from '../../src/config/load.js';
import { Engine } from '../../src/engine/engine.js';
import type { Logger } from '../../src/engine/types.js';
import { seedInfraLayer, type SeedInfraOptions } from '../../src/layers/seed-infra/index.js';
import { RestOpenStackClient } from '../../src/openstack/client.js';
import { parseCloud } from '../../src/openstack/cloud-config.js';
import type { SessionOptions } from '../../src/openstack/session.js';
import type { FaultProxy } from './fault-proxy.js';
import { labCloudsPath, labFile } from './lab-parts.js';

export { REPO_ROOT as REPO } from './lab-parts.js';
/** The lab's clouds.yaml (clouds `lab`, `lab-password`, `lab-admin`). */
export const LAB_CLOUDS = labCloudsPath();
/** A fixed key: these tests never SSH, and the lab's own key may be re-made while they run. */
const TEST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk lab-test';

export const uniqueName = (prefix: string): string =>
  `${prefix}-${Date.now().toString(36).slice(-5)}${Math.floor(Math.random() * 1296)
    .toString(36)
    .padStart(2, '0')}`;

/** Write an environment directory for the lab and load it. */
export function labEnvironment(
  name: string,
  seed: Record<string, unknown> = {},
  cloudsYamlFile = LAB_CLOUDS,
): LoadedEnvironment {
  labFile('openstack', LAB_CLOUDS);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'capi-mgmt-env-'));
  const dir = path.join(root, name);
  fs.mkdirSync(dir);
  const config = {
    openstack: { cloud: 'lab', cloudsYamlFile },
    seed: {
      image: { name: 'fake-image' },
      externalNetwork: { name: 'public' },
      dataVolume: { size: 1 },
      sshPublicKey: TEST_KEY,
      ...seed,
    },
  };
  fs.writeFileSync(path.join(dir, 'environment.yaml'), stringify(config));
  return loadEnvironment({ name, environmentsDir: root, env: {} });
}

class MemoryLogger implements Logger {
  lines: string[] = [];
  constructor(private readonly echo = !!process.env.CAPI_TEST_VERBOSE) {}
  private add(l: string) {
    this.lines.push(l);
    if (this.echo) process.stderr.write(`${l}\n`);
  }
  info(m: string) {
    this.add(m);
  }
  warn(m: string) {
    this.add(`warning: ${m}`);
  }
  debug(m: string) {
    this.add(`debug: ${m}`);
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.add(`== ${name}`);
    return fn();
  }
}

const FAST_WAITS = {
  intervalMs: 300,
  serverMs: 120_000,
  volumeMs: 60_000,
  floatingIpMs: 60_000,
  deleteMs: 120_000,
};

export function seedEngine(loaded: LoadedEnvironment, opts: SeedInfraOptions = {}, log = new MemoryLogger()) {
  const layer = seedInfraLayer({ waits: FAST_WAITS, ...opts });
  const engine = new Engine({ desired: loaded.desired, layers: [layer], log, redactor: loaded.redactor });
  return { engine, layer, log };
}

/** A copy of the lab's clouds.yaml in `dir` whose `lab` cloud logs in through the proxy; the catalog follows. */
export function writeProxiedClouds(proxy: FaultProxy, dir: string): string {
  const doc = parse(fs.readFileSync(labFile('openstack', LAB_CLOUDS), 'utf8')) as {
    clouds: Record<string, { auth: { auth_url: string } }>;
  };
  doc.clouds.lab!.auth.auth_url = proxy.url(doc.clouds.lab!.auth.auth_url);
  const file = path.join(dir, 'clouds.yaml');
  fs.writeFileSync(file, stringify(doc), { mode: 0o600 });
  return file;
}

export function labClient(cloud = 'lab', opts: SessionOptions = {}): RestOpenStackClient {
  return new RestOpenStackClient(parseCloud(fs.readFileSync(labFile('openstack', LAB_CLOUDS), 'utf8'), cloud), opts);
}

export interface Inventory {
  securityGroups: number;
  networks: number;
  subnets: number;
  routers: number;
  floatingIps: number;
  ports: number;
  servers: number;
  volumes: number;
  keypairs: number;
}

/**
 * Everything carrying the environment's tag, name or marker, in every
 * project (admin view). Ports count those on the seed network.
 */
export async function inventory(
  admin: RestOpenStackClient,
  demo: RestOpenStackClient,
  tag: string,
  seedName: string,
): Promise<Inventory> {
  const s = admin.session;
  const marker = `managed by capi-mgmt (${tag})`;
  const neutron = async (collection: string, key: string, byName: boolean): Promise<number> => {
    const ids = new Set<string>();
    const tagged = await s.request('network', 'GET', `/${collection}`, { query: { tags: tag } });
    for (const x of tagged.body[key] as Array<{ id: string }>) ids.add(x.id);
    const q = byName ? { name: seedName } : {};
    const all = await s.request('network', 'GET', `/${collection}`, { query: q });
    for (const x of all.body[key] as Array<{ id: string; description?: string }>)
      if (x.description === marker || byName) ids.add(x.id);
    return ids.size;
  };
  const nets = (await s.request('network', 'GET', '/networks', { query: { name: seedName } })).body.networks as Array<{
    id: string;
  }>;
  let ports = 0;
  for (const n of nets)
    ports += ((await s.request('network', 'GET', '/ports', { query: { network_id: n.id } })).body.ports as unknown[])
      .length;
  const servers = await s.request('compute', 'GET', '/servers/detail', {
    query: { all_tenants: 1, name: `^${seedName}$` },
    headers: { 'OpenStack-API-Version': 'compute 2.60' },
  });
  const volumes = await s.request('block-storage', 'GET', '/volumes/detail', {
    query: { all_tenants: 1, name: `${seedName}-data` },
  });
  return {
    securityGroups: await neutron('security-groups', 'security_groups', true),
    networks: await neutron('networks', 'networks', true),
    subnets: await neutron('subnets', 'subnets', true),
    routers: await neutron('routers', 'routers', true),
    floatingIps: await neutron('floatingips', 'floatingips', false),
    ports,
    servers: (servers.body.servers as unknown[]).length,
    volumes: (volumes.body.volumes as Array<{ status: string }>).filter((v) => v.status !== 'deleting').length,
    keypairs: (await demo.getKeypair(seedName)) ? 1 : 0,
  };
}

export const NOTHING: Inventory = {
  securityGroups: 0,
  networks: 0,
  subnets: 0,
  routers: 0,
  floatingIps: 0,
  ports: 0,
  servers: 0,
  volumes: 0,
  keypairs: 0,
};
/** One of each; the seed network holds the router interface, the server port and the DHCP-less subnet's nothing else. */
export const ONE_SEED: Omit<Inventory, 'ports'> = {
  securityGroups: 1,
  networks: 1,
  subnets: 1,
  routers: 1,
  floatingIps: 1,
  servers: 1,
  volumes: 1,
  keypairs: 1,
};
