/**
 * The environment schema: one source for validation, defaults, the typed
 * `Environment` and the editor JSON Schema (`schema/environment.schema.json`).
 * Keys are camelCase; every section but `openstack` is optional.
 */
import { z } from 'zod';
import ipaddr from 'ipaddr.js';
import semver from 'semver';
import { CronExpressionParser } from 'cron-parser';
import { DEFAULT_KUBERNETES_VERSION, DEFAULT_VERSIONS } from './versions.js';
import { SOURCES } from './sources.js';

// ---------- scalar helpers -------------------------------------------------

function isCidr4(v: string): boolean {
  if (!ipaddr.IPv4.isValidCIDR(v)) return false;
  const [addr] = ipaddr.IPv4.parseCIDR(v);
  return addr.toString() === v.split('/')[0] && networkOf(v) === v;
}

/** `172.16.0.1/13` -> `172.16.0.0/13`; undefined when `v` is no IPv4 CIDR at all. */
function networkOf(v: string): string | undefined {
  if (!ipaddr.IPv4.isValidCIDR(v)) return undefined;
  const [, bits] = ipaddr.IPv4.parseCIDR(v);
  return `${ipaddr.IPv4.networkAddressFromCIDR(v).toString()}/${bits}`;
}

function isCidr(v: string): boolean {
  return ipaddr.isValidCIDR(v);
}

const cidr4 = z
  .string()
  .refine(isCidr4, {
    error: (iss) => {
      const net = typeof iss.input === 'string' ? networkOf(iss.input) : undefined;
      return net !== undefined && net !== iss.input
        ? `expected an IPv4 CIDR whose address is the network address (${net})`
        : 'expected an IPv4 CIDR such as 192.168.100.0/24';
    },
  })
  .meta({ description: 'IPv4 CIDR, e.g. 192.168.100.0/24', format: 'cidr' });

const cidr = z
  .string()
  .refine(isCidr, { message: 'expected a CIDR such as 10.0.0.0/8 or 2001:db8::/32' })
  .meta({ description: 'IPv4 or IPv6 CIDR', format: 'cidr' });

const ipAddress = z
  .string()
  .refine((v) => ipaddr.isValid(v) && /^[0-9a-fA-F.:]+$/.test(v), {
    message: 'expected an IP address such as 203.0.113.10',
  })
  .meta({ format: 'ip' });

/** `v1.2.3` (optionally with `+build` or `-pre`), the form every component is tagged with. */
const vVersionOf = (example: string) =>
  z.string().refine((v) => v.startsWith('v') && semver.valid(v.slice(1)) !== null, {
    message: `expected a version such as ${example}`,
  });
const vVersion = vVersionOf('v1.2.3');

/** A chart version: plain semver, `v` prefix allowed. */
const chartVersion = z.string().refine((v) => semver.valid(v.replace(/^v/, '')) !== null, {
  message: 'expected a chart version such as 1.2.3',
});

const kubernetesVersion = z
  .string()
  .refine((v) => /^v1\.\d+\.\d+$/.test(v), { message: 'expected a Kubernetes version such as v1.33.10' });

const cron = z.string().refine(
  (v) => {
    if (v.trim().split(/\s+/).length !== 5 && !v.startsWith('@')) return false;
    try {
      CronExpressionParser.parse(v);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected a 5-field cron expression such as "0 0 * * *"' },
);

/** Go durations as Velero and Prometheus write them: 168h, 90d, 30m. */
const duration = z
  .string()
  .refine((v) => /^(\d+(ms|s|m|h|d|w|y))+$/.test(v), { message: 'expected a duration such as 168h or 90d' });

const quantity = z.string().refine((v) => /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/.test(v), {
  message: 'expected a Kubernetes quantity such as 10Gi',
});

const httpUrl = z
  .string()
  .refine(
    (v) => {
      try {
        const u = new URL(v);
        return u.protocol === 'https:' || u.protocol === 'http:';
      } catch {
        return false;
      }
    },
    { message: 'expected an http(s) URL' },
  )
  .meta({ format: 'uri' });

const dnsName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'expected a lower-case DNS label (a-z, 0-9, -)')
  .max(50, 'expected at most 50 characters');

const sshPublicKey = z
  .string()
  .refine((v) => /^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/.test(v.trim()), {
    message: 'expected an OpenSSH public key such as "ssh-ed25519 AAAA... user@host"',
  });

const ageRecipient = z.string().regex(/^age1[0-9a-z]{58}$/, 'expected an age X25519 recipient (age1...)');

const positiveInt = z.number().int().positive();

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';

/** Refer to an OpenStack resource by name or by id, exactly one of the two. */
const byNameOrId = (what: string) =>
  z
    .strictObject({
      name: z
        .string()
        .min(1)
        .optional()
        .meta({ description: `${what} name` }),
      id: z
        .string()
        .min(1)
        .optional()
        .meta({ description: `${what} id` }),
    })
    .refine((v) => (v.name === undefined) !== (v.id === undefined), {
      error: (iss) =>
        `expected exactly one of "name" or "id" for the ${what}, found ${
          isRecord(iss.input) && iss.input.name !== undefined ? 'both' : 'neither'
        }`,
    });

// ---------- sections -------------------------------------------------------

const openstack = z
  .strictObject({
    cloud: z.string().min(1).default('openstack').meta({ description: 'Entry of clouds.yaml to use.' }),
    cloudsYaml: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'clouds.yaml content (usually `${env:OS_CLOUDS}` or `${file:clouds.yaml}`). Secret.' }),
    cloudsYamlFile: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'Path of a clouds.yaml file, relative to the environment directory.' }),
    caBundle: z.string().optional().meta({ description: 'PEM CA bundle for the OpenStack APIs.' }),
  })
  .refine((v) => (v.cloudsYaml === undefined) !== (v.cloudsYamlFile === undefined), {
    error: (iss) =>
      `expected exactly one of "cloudsYaml" or "cloudsYamlFile", found ${
        isRecord(iss.input) && iss.input.cloudsYaml !== undefined ? 'both' : 'neither'
      }`,
  });

const flavorRef = z
  .union([z.literal('auto'), z.strictObject({ name: z.string().min(1) }), z.strictObject({ id: z.string().min(1) })])
  .meta({
    description: '"auto" picks the smallest flavor with at least 2 vCPU, 8 GB RAM and 20 GB disk; or {name} / {id}.',
  });

const seedNetwork = z.union([
  z.strictObject({
    cidr: cidr4.default('192.168.100.0/24'),
    mtu: z.number().int().min(576).max(9216).optional(),
    dnsNameservers: z.array(ipAddress).default([]),
  }),
  z.strictObject({ existing: byNameOrId('network') }),
]);

const floatingIp = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('allocate'), pool: z.string().optional() }),
  z.strictObject({ mode: z.literal('fixed'), address: ipAddress }),
  z.strictObject({ mode: z.literal('none') }),
]);

const sshEndpoint = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().min(1).default('ubuntu'),
  hostKey: z.string().optional().meta({ description: 'Known host key ("ssh-ed25519 AAAA...").' }),
});

const seed = z.strictObject({
  name: dnsName.optional().meta({ description: 'Defaults to capi-mgmt-<environment>-seed.' }),
  flavor: flavorRef.default('auto'),
  image: byNameOrId('image').default({ name: 'ubuntu-noble-20260814' }),
  network: seedNetwork.default({ cidr: '192.168.100.0/24', dnsNameservers: [] }),
  externalNetwork: byNameOrId('external network')
    .optional()
    .meta({ description: 'Defaults to the only external network of the cloud.' }),
  floatingIp: floatingIp.default({ mode: 'allocate' }),
  dataVolume: z.strictObject({ size: positiveInt.default(50), type: z.string().optional() }).prefault({}),
  sshPublicKey: sshPublicKey.meta({ description: 'Public half of the seed key; the private half is a secret input.' }),
  allowedSshCidrs: z.array(cidr).min(1).default(['0.0.0.0/0']),
  ssh: z
    .strictObject({
      user: z.string().min(1).default('ubuntu'),
      address: z.string().min(1).optional().meta({ description: 'Reach the seed here instead of its floating IP.' }),
      port: z.number().int().min(1).max(65535).default(22),
      hostKey: z.string().optional().meta({ description: 'Pinned seed host key; else trust on first use.' }),
      jumpHost: sshEndpoint.optional(),
      connectTimeoutSeconds: positiveInt.default(600),
    })
    .prefault({}),
});

const rootVolume = z.strictObject({
  size: positiveInt,
  type: z.string().optional(),
  availabilityZone: z.string().optional(),
});

const cluster = z.strictObject({
  name: dnsName
    .optional()
    .meta({ description: 'Helm release and CAPI Cluster name; defaults to capi-mgmt-<environment>.' }),
  chart: z
    .strictObject({
      repo: httpUrl.default(SOURCES.openstackCluster.upstream),
      name: z.string().default(SOURCES.openstackCluster.chart),
      version: chartVersion.optional().meta({ description: 'Defaults to versions.openstackClusterChart.' }),
    })
    .prefault({}),
  kubernetesVersion: kubernetesVersion.default(DEFAULT_KUBERNETES_VERSION),
  machineImage: byNameOrId('machine image')
    .optional()
    .meta({ description: 'Node image; must match kubernetesVersion.' }),
  controlPlane: z
    .strictObject({
      count: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(3),
      flavor: z.string().optional().meta({ description: 'Defaults to the seed flavor.' }),
      failureDomains: z.array(z.string()).default([]),
      omitFailureDomain: z.boolean().default(true),
      rootVolume: rootVolume.optional(),
    })
    .prefault({}),
  workers: z
    .strictObject({
      count: z.number().int().min(0).default(3),
      flavor: z.string().optional(),
      failureDomain: z.string().nullable().default(null),
      maxSurge: z.number().int().min(0).default(1),
      maxUnavailable: z.number().int().min(0).default(0),
      rootVolume: rootVolume.optional(),
    })
    .prefault({}),
  apiServer: z
    .strictObject({
      loadBalancer: z.boolean().default(true),
      floatingIp: z.boolean().default(true),
      loadBalancerProvider: z.string().optional(),
      allowedCidrs: z.array(cidr).default([]),
    })
    .prefault({}),
  network: z
    .strictObject({
      podCidr: cidr4.optional(),
      serviceCidr: cidr4.optional(),
      dnsNameservers: z.array(ipAddress).default([]),
      internalNetwork: byNameOrId('network').optional().meta({ description: 'Defaults to the seed network.' }),
    })
    .prefault({}),
  registryMirrors: z.record(z.string(), z.array(httpUrl)).default({}),
  trustBundle: z.record(z.string(), z.string()).default({}).meta({ description: 'name -> PEM, trusted on nodes.' }),
  tokenKubeconfig: z
    .strictObject({
      enabled: z.boolean().default(true),
      namespace: dnsName.default('capi-mgmt'),
      serviceAccount: dnsName.default('capi-mgmt'),
      clusterRole: z.string().default('cluster-admin'),
    })
    .prefault({}),
  volumesPolicy: z.enum(['keep', 'delete']).default('keep'),
  timeoutMinutes: positiveInt
    .default(60)
    .meta({ description: 'How long apply waits for the cluster to be ready (azimuth-ops: 60 min).' }),
  values: z
    .record(z.string(), z.unknown())
    .default({})
    .meta({ description: 'Raw openstack-cluster values, deep-merged last.' }),
});

const versions = z
  .strictObject({
    k3s: vVersionOf(DEFAULT_VERSIONS.k3s).default(DEFAULT_VERSIONS.k3s),
    helm: vVersion.default(DEFAULT_VERSIONS.helm),
    certManager: vVersion.default(DEFAULT_VERSIONS.certManager),
    capi: vVersion.default(DEFAULT_VERSIONS.capi),
    capo: vVersion.default(DEFAULT_VERSIONS.capo),
    orc: vVersion.default(DEFAULT_VERSIONS.orc),
    addonProvider: chartVersion.default(DEFAULT_VERSIONS.addonProvider),
    janitor: chartVersion.default(DEFAULT_VERSIONS.janitor),
    openstackClusterChart: chartVersion.default(DEFAULT_VERSIONS.openstackClusterChart),
    velero: chartVersion.default(DEFAULT_VERSIONS.velero),
    veleroAwsPlugin: vVersion.default(DEFAULT_VERSIONS.veleroAwsPlugin),
  })
  .prefault({});

const storage = (retention: string) =>
  z.strictObject({ retention: duration.default(retention), volumeSize: quantity.default('10Gi') }).prefault({});

const severity = z.enum(['critical', 'warning', 'all']).default('all');

const monitoring = z
  .strictObject({
    prometheus: storage('90d'),
    alertmanager: storage('168h'),
    loki: storage('744h'),
    receivers: z
      .strictObject({
        slack: z.array(z.strictObject({ webhookUrl: httpUrl, channel: z.string().optional(), severity })).default([]),
        email: z
          .array(
            z.strictObject({
              to: z.string().email('expected an e-mail address'),
              from: z.string().email('expected an e-mail address'),
              smarthost: z.string().regex(/^[^:]+:\d+$/, 'expected host:port'),
              username: z.string().optional(),
              password: z.string().optional(),
              severity,
            }),
          )
          .default([]),
        webhook: z.array(z.strictObject({ url: httpUrl, severity })).default([]),
      })
      .prefault({}),
  })
  .prefault({});

/** Namespaces azimuth-ops leaves out of backups: platform components that the tool re-creates. */
const DEFAULT_BACKUP_EXCLUDED_NAMESPACES = [
  'calico-apiserver',
  'calico-system',
  'capi-addon-system',
  'capi-janitor-system',
  'capi-kubeadm-bootstrap-system',
  'capi-kubeadm-control-plane-system',
  'capi-system',
  'capo-system',
  'cert-manager',
  'default',
  'kube-node-lease',
  'kube-public',
  'kube-system',
  'monitoring-system',
  'node-problem-detector',
  'openstack-system',
  'tigera-operator',
  'velero',
];

const backup = z.strictObject({
  enabled: z.boolean().default(true),
  s3Url: httpUrl,
  bucket: z.string().min(3).max(63),
  region: z.string().default('notused'),
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  caBundle: z.string().optional(),
  schedule: cron.default('0 0 * * *'),
  ttl: duration.default('168h'),
  includedNamespaces: z.array(z.string()).default(['*']),
  excludedNamespaces: z.array(z.string()).default(DEFAULT_BACKUP_EXCLUDED_NAMESPACES),
});

const kubeconfigArtifact = z
  .strictObject({
    ageRecipients: z.array(ageRecipient).default([]),
    retentionDays: z.number().int().min(1).max(90).default(1),
  })
  .prefault({});

const mirrors = z
  .strictObject({
    binaries: httpUrl.optional().meta({ description: 'Base URL for K3s and helm binaries and their checksums.' }),
    manifests: httpUrl.optional().meta({ description: 'Base URL for provider component manifests.' }),
    charts: httpUrl.optional().meta({ description: 'Helm repository that replaces every upstream chart repository.' }),
  })
  .prefault({});

export const environmentSchema = z
  .strictObject({
    extends: z
      .array(z.string())
      .default([])
      .meta({ description: 'Environment directories (relative paths) merged first, in order.' }),
    name: dnsName.optional().meta({ description: 'Environment name; defaults to the directory name.' }),
    openstack,
    seed,
    cluster: cluster.prefault({}),
    versions,
    monitoring,
    backup: backup.optional(),
    kubeconfig: kubeconfigArtifact,
    mirrors,
  })
  .meta({ title: 'capi-mgmt environment' });

export type Environment = z.output<typeof environmentSchema>;

/**
 * Paths (dot form, `*` for any key or index) whose values are secrets: they
 * are redacted in plans, comments, summaries and logs.
 */
export const SENSITIVE_PATHS = [
  'openstack.cloudsYaml',
  'backup.accessKeyId',
  'backup.secretAccessKey',
  'monitoring.receivers.slack.*.webhookUrl',
  'monitoring.receivers.email.*.password',
  'monitoring.receivers.webhook.*.url',
];

/**
 * Paths whose values are public even when they come from `${env:}` or
 * `${file:}` (every other referenced value is treated as a secret).
 */
export const PUBLIC_PATHS = [
  'openstack.cloud',
  'seed.sshPublicKey',
  'seed.ssh.user',
  'seed.ssh.address',
  'seed.ssh.hostKey',
  'seed.ssh.jumpHost.host',
  'seed.ssh.jumpHost.user',
  'seed.ssh.jumpHost.hostKey',
  'kubeconfig.ageRecipients.*',
  'mirrors.binaries',
  'mirrors.manifests',
  'mirrors.charts',
  'backup.s3Url',
  'backup.bucket',
  'backup.region',
];
