/** Observed states for seed-infra's diff tests: "everything exists and matches", then tests break it. */
import { testDesired } from './desired.js';
import type { Desired } from '../../src/model/desired.js';
import type { SeedInfraObserved } from '../../src/layers/seed-infra/observe.js';
import { ENV_METADATA_KEY, KEY_METADATA_KEY, seedSpec } from '../../src/layers/seed-infra/spec.js';

export const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk test';
export const OTHER_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvD3YyVhQk7b3E4W0tq1cX0d7m7bY3mRr5y4n4J2k1Q other';

export function seedDesired(seed: Record<string, unknown> = {}, name = 'unit'): Desired {
  return testDesired(name, { seed: { sshPublicKey: KEY, image: { name: 'ubuntu' }, ...seed } });
}

export const FLAVORS = [
  { id: '1', name: 'm1.tiny', vcpus: 1, ram: 512, disk: 1 },
  { id: '3', name: 'm1.medium', vcpus: 2, ram: 4096, disk: 40 },
  { id: '4', name: 'm1.large', vcpus: 4, ram: 8192, disk: 80 },
  { id: '6', name: 'c1.large', vcpus: 2, ram: 8192, disk: 20 },
  { id: '5', name: 'm1.xlarge', vcpus: 8, ram: 16384, disk: 160 },
];

/** Everything in place, as the REST client would report it after a clean apply. */
export function converged(desired: Desired): SeedInfraObserved {
  const spec = seedSpec(desired);
  const tags = [spec.tag];
  const own = (id: string, name: string) => ({ id, name, description: spec.marker, tags });
  return {
    blockStorage: true,
    flavors: FLAVORS,
    images: [{ id: 'img-1', name: 'ubuntu', status: 'active' }],
    imageNames: [],
    networkNames: [],
    externalNetworks: [{ ...own('ext-1', 'public'), tags: [], description: '', external: true, status: 'ACTIVE' }],
    existingNetworks: [],
    securityGroups: [
      {
        ...own('sg-1', spec.names.securityGroup),
        rules: [
          {
            id: 'r1',
            direction: 'ingress',
            ethertype: 'IPv4',
            protocol: 'tcp',
            portRangeMin: 22,
            portRangeMax: 22,
            remoteIpPrefix: '0.0.0.0/0',
          },
          {
            id: 'r2',
            direction: 'egress',
            ethertype: 'IPv4',
            protocol: null,
            portRangeMin: null,
            portRangeMax: null,
            remoteIpPrefix: null,
          },
        ],
      },
    ],
    networks: [{ ...own('net-1', spec.names.network), external: false, status: 'ACTIVE' }],
    subnets: [
      {
        ...own('sub-1', spec.names.subnet),
        networkId: 'net-1',
        cidr: '192.168.100.0/24',
        dnsNameservers: [],
        gatewayIp: '192.168.100.1',
      },
    ],
    routers: [{ ...own('rt-1', spec.names.router), externalNetworkId: 'ext-1' }],
    routerPorts: [
      {
        id: 'p-rt',
        networkId: 'net-1',
        deviceId: 'rt-1',
        deviceOwner: 'network:router_interface',
        status: 'ACTIVE',
        fixedIps: [{ subnetId: 'sub-1', ipAddress: '192.168.100.1' }],
      },
    ],
    keypair: { name: spec.names.keypair, publicKey: KEY, fingerprint: 'md5' },
    volumes: [
      {
        id: 'vol-1',
        name: spec.names.volume,
        status: 'in-use',
        size: 50,
        volumeType: null,
        metadata: { [ENV_METADATA_KEY]: spec.tag },
        attachments: [{ serverId: 'srv-1' }],
      },
    ],
    servers: [
      {
        id: 'srv-1',
        name: spec.names.server,
        status: 'ACTIVE',
        tags,
        metadata: { [ENV_METADATA_KEY]: spec.tag, [KEY_METADATA_KEY]: spec.keyFingerprint },
        flavor: { name: 'c1.large', vcpus: 2, ram: 8192, disk: 20 },
        imageId: 'img-1',
        keyName: spec.names.keypair,
        securityGroups: [spec.names.securityGroup],
        addresses: { [spec.names.network]: [{ addr: '192.168.100.10', type: 'fixed', version: 4 }] },
      },
    ],
    serverPorts: [
      {
        id: 'p-srv',
        networkId: 'net-1',
        deviceId: 'srv-1',
        deviceOwner: 'compute:nova',
        status: 'ACTIVE',
        fixedIps: [{ subnetId: 'sub-1', ipAddress: '192.168.100.10' }],
      },
    ],
    floatingIps: [
      {
        id: 'fip-1',
        address: '172.24.4.20',
        description: spec.marker,
        tags,
        floatingNetworkId: 'ext-1',
        portId: 'p-srv',
        fixedIpAddress: '192.168.100.10',
        status: 'ACTIVE',
      },
    ],
  };
}
