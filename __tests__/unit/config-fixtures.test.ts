/**
 * The environment loader against a corpus of environments: every directory
 * under `fixtures/config/invalid/` is one case (`envs/main` is loaded) and
 * `expected.txt` holds its exact output, `FILE:LINE:COL: message` per line
 * with FILE relative to the case directory. A valid base+child pair proves
 * the merge rules and secret resolution.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { loadEnvironment } from '../../src/config/load.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/config');
const INVALID = path.join(FIXTURES, 'invalid');

/** The only variables the cases see; anything else is "not set". */
const ENV = {
  CAPI_TEST_SECRET: 'ssh-rsa-but-not-really-a-key-0123456789',
  CAPI_TEST_ACCESS_KEY: 'AKIATESTACCESSKEY',
};

function loadCase(caseDir: string): string {
  try {
    loadEnvironment({ name: 'main', environmentsDir: path.join(caseDir, 'envs'), env: ENV });
  } catch (e) {
    if (e instanceof ConfigError) return e.format(caseDir);
    throw e;
  }
  return '(no error)';
}

const cases = fs
  .readdirSync(INVALID, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

describe('invalid environments', () => {
  it('has a broad corpus', () => {
    expect(cases.length).toBeGreaterThanOrEqual(35);
  });

  it.each(cases)('%s', (name) => {
    const caseDir = path.join(INVALID, name);
    const expected = fs.readFileSync(path.join(caseDir, 'expected.txt'), 'utf8').trimEnd();
    expect(expected, `${name}/expected.txt is empty`).not.toBe('');
    expect(loadCase(caseDir)).toBe(expected);
  });

  it('reports the position relative to any base directory and sorted by file, line, column', () => {
    const caseDir = path.join(INVALID, 'multiple-errors-sorted');
    let error: ConfigError | undefined;
    try {
      loadEnvironment({ name: 'main', environmentsDir: path.join(caseDir, 'envs'), env: ENV });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const lines = error!.issues.map((i) => i.line);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
    expect(lines.length).toBeGreaterThan(5);
    expect(error!.format(path.join(caseDir, 'envs', 'main'))).toMatch(/^env\.yaml:2:9: versions\.capi: /);
    // Without a base the message (Error.message) carries absolute paths.
    expect(error!.message.split('\n')[0]).toContain(path.join(caseDir, 'envs', 'main', 'env.yaml'));
  });

  it('never echoes a secret value', () => {
    const out = loadCase(path.join(INVALID, 'secret-value-hidden'));
    expect(out).toContain('(value hidden)');
    for (const secret of [ENV.CAPI_TEST_SECRET, '8412739912', 'XXXXsecretXXXX', 'hooks.slack.example']) {
      expect(out).not.toContain(secret);
    }
  });

  it('names the unresolved reference, not its (missing) value', () => {
    expect(loadCase(path.join(INVALID, 'missing-env-secret'))).toContain('${env:CAPI_TEST_MISSING_CLOUDS}');
    expect(loadCase(path.join(INVALID, 'missing-file-secret'))).toContain('${file:secrets/velero-secret.txt}');
  });

  it('reports an unknown environment with the ones that exist', () => {
    const dir = path.join(INVALID, 'extends-cycle', 'envs');
    expect(() => loadEnvironment({ name: 'nope', environmentsDir: dir, env: ENV })).toThrow(
      /no environment "nope" in .* \(found: base, main\)/,
    );
  });
});

describe('a valid environment built on another', () => {
  const envs = path.join(FIXTURES, 'valid', 'extends', 'envs');
  const env = { CAPI_TEST_ACCESS_KEY_ID: 'AKIAFROMENVIRONMENT01' };
  const loaded = loadEnvironment({ name: 'child', environmentsDir: envs, env });
  const c = loaded.desired.config;

  it('reads the parent first, then the files of the child in name order', () => {
    expect(loaded.files.map((f) => path.relative(envs, f))).toEqual([
      path.join('base', 'env.yaml'),
      path.join('child', 'env.yaml'),
      path.join('child', 'later.yaml'),
    ]);
  });

  it('merges maps key by key', () => {
    expect(c.seed.network).toEqual({ cidr: '192.168.100.0/24', mtu: 1450, dnsNameservers: ['1.1.1.1'] });
    expect(c.cluster.workers).toMatchObject({ count: 5, maxSurge: 2, maxUnavailable: 1 });
    expect(c.cluster.controlPlane.count).toBe(3);
    expect(c.seed.sshPublicKey).toMatch(/^ssh-ed25519 /);
  });

  it('replaces lists instead of merging them', () => {
    expect(c.seed.allowedSshCidrs).toEqual(['198.51.100.0/24']);
    expect(c.seed.network).toMatchObject({ dnsNameservers: ['1.1.1.1'] });
  });

  it('lets the later file win', () => {
    expect(c.versions.capo).toBe('v0.14.9');
  });

  it('fills the defaults and derives the names', () => {
    expect(c.versions.capi).toBe('v1.14.0');
    expect(c.backup?.schedule).toBe('0 0 * * *');
    expect(loaded.desired.name).toBe('site-a');
    expect(loaded.desired.seedName).toBe('capi-mgmt-site-a-seed');
    expect(c.extends).toEqual(['../base']);
  });

  it('resolves secret references: env, and files relative to the directory that names them', () => {
    expect(c.backup?.accessKeyId).toBe('AKIAFROMENVIRONMENT01');
    expect(c.backup?.secretAccessKey).toBe('velero-secret-from-a-file-0001');
    expect(c.openstack.cloudsYaml).toContain('base-credential-secret-0001');
  });

  it('puts every resolved secret in the redactor', () => {
    const values = loaded.redactor.values();
    expect(values).toContain('AKIAFROMENVIRONMENT01');
    expect(values).toContain('velero-secret-from-a-file-0001');
    expect(values).toContain('base-credential-secret-0001');
    expect(values).not.toContain('site-a');
  });

  it('reports the missing variable when the environment lacks it', () => {
    expect(() => loadEnvironment({ name: 'child', environmentsDir: envs, env: {} })).toThrow(
      'backup.accessKeyId: secret reference ${env:CAPI_TEST_ACCESS_KEY_ID} cannot be resolved',
    );
  });

  it('accepts the example environment', () => {
    const example = loadEnvironment({
      name: 'example',
      environmentsDir: path.resolve(FIXTURES, '../../../environments'),
      env: {},
    });
    expect(example.desired.clusterName).toBe('capi-mgmt-example');
  });
});
