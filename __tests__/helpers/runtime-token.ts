/**
 * The runner's ACTIONS_RUNTIME_TOKEN as the stand-ins issue and check it: a
 * JWT signed with RS256 by this process's token service, holding what the
 * toolkit clients read (`scp` with `Actions.Results:<run>:<job>`, from which
 * @actions/artifact takes its backend ids) and what the services check
 * (`ac`: the cache scopes and what the run may do in each). A token that is
 * unsigned, signed by another key, expired or for another audience fails.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { errors, jwtVerify } from 'jose';

const TOKEN_ISSUER = 'https://token.actions.standin';
const TOKEN_AUDIENCE = 'actions-results-standin';

/** Permission bits of a cache scope, as in the `ac` claim. */
export const CACHE_READ = 1;
export const CACHE_WRITE = 2;

interface CacheScope {
  /** A ref, e.g. `refs/heads/main`. */
  scope: string;
  permission: number;
}

export interface RuntimeClaims {
  run: string;
  job: string;
  /** In the order the service tries them: the run's own ref first. */
  cacheScopes: CacheScope[];
}

export interface TokenOptions {
  /**
   * Cache scopes (default: read and write on refs/heads/main). A pull request's
   * run may read its own ref and the base branch but write only its own ref.
   */
  cacheScopes?: CacheScope[];
  /** Seconds until expiry; negative for an expired token. */
  expiresIn?: number;
}

// One token service per test process, like GitHub's one issuer: every
// stand-in in the process accepts what it signed and nothing else.
let keys: { privateKey: KeyObject; publicKey: KeyObject } | undefined;
function signingKeys(): { privateKey: KeyObject; publicKey: KeyObject } {
  keys ??= generateKeyPairSync('rsa', { modulusLength: 2048 });
  return keys;
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Signs synchronously (tests build environments with it) over header.payload, as RFC 7515 says. */
export function runtimeToken(run: string, job: string, o: TokenOptions = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const scopes = o.cacheScopes ?? [{ scope: 'refs/heads/main', permission: CACHE_READ | CACHE_WRITE }];
  const payload = {
    iss: TOKEN_ISSUER,
    aud: TOKEN_AUDIENCE,
    nbf: now - 60,
    iat: now - 60,
    exp: now + (o.expiresIn ?? 6 * 3600),
    scp: `Actions.GenericRead:00000000-0000-0000-0000-000000000000 Actions.UploadArtifacts:${run}:${job} Actions.Results:${run}:${job}`,
    ac: JSON.stringify(scopes.map((s) => ({ Scope: s.scope, Permission: s.permission }))),
  };
  const input = `${b64({ typ: 'JWT', alg: 'RS256' })}.${b64(payload)}`;
  const signature = sign('sha256', Buffer.from(input), signingKeys().privateKey); // RS256: PKCS#1 v1.5 with SHA-256
  return `${input}.${signature.toString('base64url')}`;
}

export class TokenError extends Error {}

/** Checks signature, issuer, audience and lifetime of a bearer token; returns its scope. */
export async function verifyRuntimeToken(authorization: string | undefined): Promise<RuntimeClaims> {
  const token = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
  if (!token) throw new TokenError('no bearer token');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, signingKeys().publicKey, {
      algorithms: ['RS256'],
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
    }));
  } catch (e) {
    const why = e instanceof errors.JOSEError ? e.code : 'malformed';
    throw new TokenError(`token rejected (${why})`);
  }
  const m = /(?:^| )Actions\.Results:([^: ]+):([^: ]+)(?: |$)/.exec(String(payload.scp ?? ''));
  if (!m) throw new TokenError('token has no Actions.Results scope');
  let cacheScopes: CacheScope[] = [];
  if (typeof payload.ac === 'string') {
    const ac = JSON.parse(payload.ac) as Array<{ Scope: string; Permission: number }>;
    cacheScopes = ac.map((s) => ({ scope: s.Scope, permission: s.Permission }));
  }
  return { run: m[1]!, job: m[2]!, cacheScopes };
}
