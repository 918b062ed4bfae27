/**
 * The secret scan of the end-to-end tests: looks for every secret in clear
 * and in the encodings tools apply (JSON string escaping, URL encoding,
 * base64), and inside what the texts embed: the gzip+base64 plan of a PR
 * comment (`<!-- capi-mgmt-plan ... -->`) and any other base64 blob are
 * decoded and scanned too. Written independently of src/util/redact.ts so
 * that a gap there is not mirrored here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse } from 'yaml';

const SECRET_FIELDS = new Set([
  'password',
  'application_credential_secret',
  'secret',
  'token',
  'client-key-data',
  'private_key',
]);

/** Base64 runs long enough to hide a secret (20 chars = 15 bytes). */
const BASE64_RUN = /[A-Za-z0-9+/_-]{20,}={0,2}/g;

/** Every value under a secret key of a YAML/JSON document, as written. */
function secretFields(text: string): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      for (const [k, c] of Object.entries(v)) {
        if (SECRET_FIELDS.has(k) && (typeof c === 'string' || typeof c === 'number')) out.push(String(c));
        else walk(c);
      }
    }
  };
  // Strings only: a password `012345678` must be looked for as written.
  walk(parse(text, { schema: 'failsafe' }));
  return out;
}

/**
 * The lab's own secrets, from the files the lab writes: every password and
 * credential secret of .lab/clouds.yaml (the admin's too), the tokens and
 * client keys of the lab kubeconfigs, and the seed SSH key's body lines.
 * Fails when the lab has not written its clouds.yaml: the scan would
 * otherwise look for nothing.
 */
export function labSecrets(labDir: string): string[] {
  const clouds = path.join(labDir, 'clouds.yaml');
  if (!fs.existsSync(clouds)) throw new Error(`secret scan: no ${clouds}; start the lab (npm run lab:up)`);
  const out = secretFields(fs.readFileSync(clouds, 'utf8'));
  const k8s = path.join(labDir, 'k8s');
  const files = fs.existsSync(k8s) ? fs.readdirSync(k8s, { recursive: true, encoding: 'utf8' }) : [];
  for (const rel of files) {
    const file = path.join(k8s, rel);
    if (!/kubeconfig/i.test(path.basename(file)) || !fs.statSync(file).isFile()) continue;
    out.push(...secretFields(fs.readFileSync(file, 'utf8')));
  }
  const key = path.join(labDir, 'seed_key');
  if (fs.existsSync(key)) {
    out.push(
      ...fs
        .readFileSync(key, 'utf8')
        .split('\n')
        .filter((l) => l.length >= 16 && !l.startsWith('-----')),
    );
  }
  return [...new Set(out.filter((s) => s !== ''))];
}

/** What a secret looks like after the encodings tools apply. */
function forms(secret: string): Array<[string, string]> {
  const b64 = Buffer.from(secret).toString('base64');
  const all: Array<[string, string]> = [
    ['in clear', secret],
    ['JSON-escaped', JSON.stringify(secret).slice(1, -1)],
    ['URL-encoded', encodeURIComponent(secret)],
    ['base64', b64],
    ['base64url', b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')],
  ];
  // A form equal to an earlier one (no character needed escaping) is the same finding.
  return all.filter(([, f], i) => all.findIndex(([, g]) => g === f) === i);
}

/** Texts a text carries inside it: the embedded plans (gunzipped) and any other base64 blob, decoded. */
function embedded(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const PLAN = /<!-- capi-mgmt-plan ([A-Za-z0-9+/=]+) -->/g;
  for (const m of text.matchAll(PLAN)) {
    out.push(['embedded plan', gunzipSync(Buffer.from(m[1]!, 'base64')).toString('utf8')]);
  }
  for (const m of text.replace(PLAN, '').matchAll(BASE64_RUN)) {
    const bytes = Buffer.from(m[0].replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    let decoded = bytes;
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
      try {
        decoded = gunzipSync(bytes);
      } catch {
        // not gzip after all
      }
    }
    out.push(['decoded base64', decoded.toString('latin1')]);
  }
  return out;
}

/** Every place a secret shows, as `where (how) contains abcdef…`; empty when nothing leaks. */
export function scanForSecrets(secrets: readonly string[], texts: Record<string, string | Buffer>): string[] {
  const wanted = [...new Set(secrets.filter((s) => s !== ''))];
  if (wanted.length === 0) throw new Error('secret scan: no secrets to look for');
  const leaks: string[] = [];
  const scan = (where: string, text: string, depth: number): void => {
    for (const secret of wanted) {
      for (const [how, form] of forms(secret)) {
        if (text.includes(form)) leaks.push(`${where} contains ${secret.slice(0, 6)}… ${how}`);
      }
    }
    if (depth === 0) return;
    for (const [how, inner] of embedded(text)) scan(`${where} (${how})`, inner, depth - 1);
  };
  for (const [where, t] of Object.entries(texts)) scan(where, Buffer.isBuffer(t) ? t.toString('latin1') : t, 2);
  return [...new Set(leaks)];
}
