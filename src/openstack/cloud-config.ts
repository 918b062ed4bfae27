/**
 * One entry of clouds.yaml turned into what the client needs: how to log
 * in, where, and which CA to trust. Only the keys the OpenStack SDK
 * documents for Keystone v3 are read; anything else is ignored.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CLOUDS_YAML_TEXT_KEYS, parseYamlSecretsAsWritten } from '../util/yaml-secrets.js';

type CloudAuth =
  | {
      type: 'password';
      username?: string;
      userId?: string;
      password: string;
      userDomainName?: string;
      userDomainId?: string;
      projectName?: string;
      projectId?: string;
      projectDomainName?: string;
      projectDomainId?: string;
    }
  | {
      type: 'application-credential';
      id?: string;
      name?: string;
      secret: string;
      username?: string;
      userDomainName?: string;
    };

export interface CloudConfig {
  /** Keystone v3 URL, always ending in `/v3`. */
  authUrl: string;
  auth: CloudAuth;
  region?: string;
  /** public (default), internal or admin. */
  interface: 'public' | 'internal' | 'admin';
  /** PEM text of extra CAs to trust (clouds.yaml `cacert` and/or `openstack.caBundle`). */
  caPem?: string;
  /** false disables TLS verification (clouds.yaml `verify: false`). */
  verify: boolean;
}

class CloudConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CloudConfigError';
  }
}

type Map = Record<string, unknown>;
const isMap = (v: unknown): v is Map => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (m: Map, k: string): string | undefined => {
  const v = m[k];
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
};

/** Keystone wants the versioned URL; clouds.yaml often has the bare one. */
function normaliseAuthUrl(url: string): string {
  const u = url.replace(/\/+$/, '');
  return /\/v3$/.test(u) ? u : `${u}/v3`;
}

/**
 * Parse the named cloud. `baseDir` resolves a relative `cacert` path (the
 * directory of the clouds.yaml file, or the environment directory).
 */
export function parseCloud(
  cloudsYaml: string | Map,
  cloud: string,
  opts: { baseDir?: string; caBundle?: string } = {},
): CloudConfig {
  // Credentials as written: a numeric password `012345678` is sent as those nine characters.
  const doc: unknown =
    typeof cloudsYaml === 'string' ? parseYamlSecretsAsWritten(cloudsYaml, CLOUDS_YAML_TEXT_KEYS) : cloudsYaml;
  const clouds = isMap(doc) && isMap(doc.clouds) ? doc.clouds : undefined;
  if (!clouds) throw new CloudConfigError('clouds.yaml: expected a "clouds:" mapping');
  const c = clouds[cloud];
  if (!isMap(c)) {
    throw new CloudConfigError(`clouds.yaml: no cloud "${cloud}" (found: ${Object.keys(clouds).join(', ') || 'none'})`);
  }
  const a = isMap(c.auth) ? c.auth : {};
  const authUrl = str(a, 'auth_url');
  if (!authUrl) throw new CloudConfigError(`clouds.yaml: cloud "${cloud}" has no auth.auth_url`);
  const authType =
    str(c, 'auth_type') ?? (str(a, 'application_credential_secret') ? 'v3applicationcredential' : 'password');

  let auth: CloudAuth;
  if (authType === 'v3applicationcredential' || authType === 'application_credential') {
    const secret = str(a, 'application_credential_secret');
    if (!secret) throw new CloudConfigError(`clouds.yaml: cloud "${cloud}" has no auth.application_credential_secret`);
    auth = {
      type: 'application-credential',
      id: str(a, 'application_credential_id'),
      name: str(a, 'application_credential_name'),
      secret,
      username: str(a, 'username'),
      userDomainName: str(a, 'user_domain_name'),
    };
    if (!auth.id && !(auth.name && auth.username)) {
      throw new CloudConfigError(
        `clouds.yaml: cloud "${cloud}" needs auth.application_credential_id (or a name with a username)`,
      );
    }
  } else if (authType === 'password' || authType === 'v3password') {
    const password = str(a, 'password');
    if (!password) throw new CloudConfigError(`clouds.yaml: cloud "${cloud}" has no auth.password`);
    const domain = str(a, 'domain_name');
    auth = {
      type: 'password',
      username: str(a, 'username'),
      userId: str(a, 'user_id'),
      password,
      userDomainName: str(a, 'user_domain_name') ?? domain,
      userDomainId: str(a, 'user_domain_id'),
      projectName: str(a, 'project_name') ?? str(a, 'tenant_name'),
      projectId: str(a, 'project_id') ?? str(a, 'tenant_id'),
      projectDomainName: str(a, 'project_domain_name') ?? domain,
      projectDomainId: str(a, 'project_domain_id'),
    };
  } else {
    throw new CloudConfigError(
      `clouds.yaml: cloud "${cloud}" has auth_type "${authType}"; expected v3applicationcredential or password`,
    );
  }

  const iface = (str(c, 'interface') ?? str(c, 'endpoint_type') ?? 'public').replace(/URL$/, '');
  if (iface !== 'public' && iface !== 'internal' && iface !== 'admin') {
    throw new CloudConfigError(
      `clouds.yaml: cloud "${cloud}" has interface "${iface}"; expected public, internal or admin`,
    );
  }

  const pems: string[] = [];
  const cacert = str(c, 'cacert');
  if (cacert) {
    const file = path.resolve(opts.baseDir ?? process.cwd(), cacert);
    try {
      pems.push(fs.readFileSync(file, 'utf8'));
    } catch {
      throw new CloudConfigError(`clouds.yaml: cloud "${cloud}" names cacert ${cacert}, which cannot be read`);
    }
  }
  if (opts.caBundle?.trim()) pems.push(opts.caBundle);

  return {
    authUrl: normaliseAuthUrl(authUrl),
    auth,
    region: str(c, 'region_name'),
    interface: iface,
    caPem: pems.length ? pems.join('\n') : undefined,
    verify: c.verify !== false && c.insecure !== true,
  };
}
