/** The end-to-end tests' secret scan must see what a PR comment hides in its embedded plan. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writePlanBlock } from '../../src/github/marker.js';
import { buildPlan } from '../../src/plan/plan.js';
import { labSecrets, scanForSecrets } from '../helpers/secret-scan.js';

const SECRET = 'lab-demo-password-0042';

const planWith = (after: unknown) =>
  buildPlan({
    environment: 'lab',
    layers: ['platform'],
    changes: [{ layer: 'platform', address: 'secret/x', action: 'create', after }],
  });

describe('scanForSecrets', () => {
  it('finds a secret inside the gzip+base64 plan a PR comment embeds', () => {
    const body = `## plan\n\n${writePlanBlock(planWith({ password: SECRET }), 60_000)}\n`;
    expect(body).not.toContain(SECRET);
    expect(scanForSecrets([SECRET], { comment: body })).toEqual(['comment (embedded plan) contains lab-de… in clear']);
  });

  it('passes a comment whose embedded plan is clean', () => {
    const body = writePlanBlock(planWith({ password: '(sensitive)' }), 60_000);
    expect(scanForSecrets([SECRET], { comment: body })).toEqual([]);
  });

  it('finds the encoded forms: JSON-escaped, URL-encoded, base64 alone or as part of a blob', () => {
    const odd = 'p"w/ d';
    const found = scanForSecrets([odd, SECRET], {
      json: JSON.stringify({ v: odd }),
      url: `https://h/?p=${encodeURIComponent(odd)}`,
      b64: `data: ${Buffer.from(SECRET).toString('base64')}`,
      blob: Buffer.from(`prefix:${SECRET}:suffix`).toString('base64'),
    });
    expect(found).toEqual([
      'json contains p"w/ d… JSON-escaped',
      'url contains p"w/ d… URL-encoded',
      'b64 contains lab-de… base64',
      'b64 contains lab-de… base64url',
      'b64 (decoded base64) contains lab-de… in clear',
      'blob (decoded base64) contains lab-de… in clear',
    ]);
  });

  it('refuses to scan for nothing', () => {
    expect(() => scanForSecrets(['', ''], { a: 'x' })).toThrow('no secrets to look for');
  });
});

describe('labSecrets', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-secrets-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads every password and credential of the lab, numeric ones as written', () => {
    fs.writeFileSync(
      path.join(dir, 'clouds.yaml'),
      [
        'clouds:',
        '  lab: {auth: {application_credential_secret: appcred-secret-1}}',
        '  lab-admin: {auth: {username: admin, password: 012345678}}',
        '',
      ].join('\n'),
    );
    fs.mkdirSync(path.join(dir, 'k8s', 'seed'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'k8s', 'seed', 'kubeconfig'), 'users:\n- name: a\n  user: {token: seed-token-1}\n');
    expect(labSecrets(dir).sort()).toEqual(['012345678', 'appcred-secret-1', 'seed-token-1']);
  });

  it('fails, naming the lab, when the lab has written nothing', () => {
    expect(() => labSecrets(dir)).toThrow('start the lab');
  });
});
