import { describe, expect, it } from 'vitest';
import { base64Fragment, redactError, Redactor, REDACTED } from '../../src/util/redact.js';

const redactor = (...values: string[]): Redactor => {
  const r = new Redactor();
  for (const v of values) r.add(v);
  return r;
};

describe('Redactor: whole values', () => {
  it('masks a value whatever its length', () => {
    const r = redactor('pw1', 'ab');
    expect(r.redact('user admin, password pw1, pin ab')).toBe(`user admin, password ${REDACTED}, pin ${REDACTED}`);
  });

  it('registers numbers and booleans as the text they were written as', () => {
    const r = new Redactor();
    r.add(12345678);
    r.add(true);
    expect(r.redact('pass=12345678 flag=true')).toBe(`pass=${REDACTED} flag=${REDACTED}`);
  });

  it('ignores empty values', () => {
    const r = redactor('', '   ');
    expect(r.redact('nothing to hide')).toBe('nothing to hide');
    expect(r.values()).toEqual([]);
  });

  it('masks a multi-line value whole and by its longer lines, not by its PEM markers', () => {
    const pem = [
      '-----BEGIN OPENSSH PRIVATE KEY-----',
      'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
      'QyNTUxOQAAACB8dGVzdGtleW1hdGVyaWFs',
      '-----END OPENSSH PRIVATE KEY-----',
    ].join('\n');
    const r = redactor(pem);
    expect(r.redact(`key:\n${pem}\n`)).toBe(`key:\n${REDACTED}\n`);
    expect(r.redact('line QyNTUxOQAAACB8dGVzdGtleW1hdGVyaWFs seen')).toBe(`line ${REDACTED} seen`);
    expect(r.redact('-----BEGIN OPENSSH PRIVATE KEY-----')).toBe('-----BEGIN OPENSSH PRIVATE KEY-----');
    // The runner masks line by line: only single-line patterns go to it.
    expect(r.values().every((v) => !v.includes('\n'))).toBe(true);
  });
});

describe('Redactor: encoded forms', () => {
  const secret = 'p@ss w"rd/+\\1';

  it('masks the JSON-escaped form, also nested in JSON inside JSON', () => {
    const r = redactor(secret);
    const once = JSON.stringify({ password: secret });
    const twice = JSON.stringify({ body: once });
    expect(r.redact(once)).toBe(`{"password":"${REDACTED}"}`);
    expect(r.redact(twice)).not.toContain('w\\\\\\"rd');
    expect(r.redact(twice)).toContain(REDACTED);
  });

  it('masks the URL-encoded forms (path and form style)', () => {
    const r = redactor(secret);
    expect(r.redact(`https://h/x?p=${encodeURIComponent(secret)}&a=1`)).toBe(`https://h/x?p=${REDACTED}&a=1`);
    expect(r.redact(new URLSearchParams({ p: secret, a: '1' }).toString())).toBe(`p=${REDACTED}&a=1`);
  });

  it('masks the base64 of the value alone, standard and URL-safe, at any length', () => {
    const r = redactor('pw');
    expect(r.redact(`data: ${Buffer.from('pw').toString('base64')}`)).toBe(`data: ${REDACTED}`);
    const s = redactor(secret);
    expect(s.redact(Buffer.from(secret).toString('base64url'))).toBe(REDACTED);
  });

  it('masks the value inside a longer base64 blob at every alignment', () => {
    const value = 'velero-secret-0123';
    const r = redactor(value);
    for (let before = 0; before < 6; before++) {
      const blob = Buffer.from(`${'k'.repeat(before)}aws_secret_access_key=${value}\n`).toString('base64');
      const out = r.redact(blob);
      expect(out, `offset ${before}`).toContain(REDACTED);
      for (const align of [0, 1, 2] as const) expect(out).not.toContain(base64Fragment(Buffer.from(value), align));
      // What is left decodes to the neighbours only, never to the value.
      const left = out.split(REDACTED).map((part) => Buffer.from(part, 'base64').toString('latin1'));
      expect(left.join('|')).not.toContain(value.slice(1, -1));
    }
  });

  it('masks a multi-line secret inside base64 (a PEM in client-key-data)', () => {
    const pem = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBm9f3kqkey-material-for-tests\n-----END EC PRIVATE KEY-----';
    const r = redactor(pem);
    const blob = Buffer.from(`${pem}\n`).toString('base64');
    expect(r.redact(`client-key-data: ${blob}`)).toContain(REDACTED);
    expect(r.redact(blob)).not.toContain(Buffer.from(pem).toString('base64').slice(8, 40));
  });
});

describe('Redactor: URL credentials', () => {
  it('registers the userinfo and the password of a URL with credentials', () => {
    const r = new Redactor();
    r.addUrl('https://mirror-user:m1rr%2For@mirror.example/bin');
    expect(r.redact('pass m1rr%2For and m1rr/or')).toBe(`pass ${REDACTED} and ${REDACTED}`);
    expect(r.redact('auth mirror-user:m1rr%2For')).toBe(`auth ${REDACTED}`);
  });

  it('registers a lone user as the credential (a token in a URL)', () => {
    const r = new Redactor();
    r.addUrl('https://ghp_tokenvalue01@git.example/repo.git');
    expect(r.redact('token ghp_tokenvalue01')).toBe(`token ${REDACTED}`);
  });

  it('registers nothing for a URL without credentials', () => {
    const r = new Redactor();
    r.addUrl('https://mirror.example/bin');
    expect(r.values()).toEqual([]);
  });

  it('masks the userinfo of any URL, registered or not', () => {
    const r = new Redactor();
    expect(r.redact('GET https://someone:hunter2@s3.example:9000/bucket failed')).toBe(
      `GET https://${REDACTED}@s3.example:9000/bucket failed`,
    );
    expect(r.redact('see https://s3.example/bucket')).toBe('see https://s3.example/bucket');
  });
});

describe('Redactor: documents', () => {
  it('registers a numeric clouds.yaml password as written, leading zero included', () => {
    const r = new Redactor();
    r.addDocument('clouds:\n  lab:\n    auth:\n      username: admin\n      password: 012345678\n');
    expect(r.redact('password 012345678 sent')).toBe(`password ${REDACTED} sent`);
    expect(r.redact('user admin')).toBe('user admin');
  });

  it('registers a kubeconfig token whatever it looks like', () => {
    const r = new Redactor();
    r.addDocument('users:\n- name: a\n  user: {token: 4242, client-key-data: true}\n');
    expect(r.redact('Bearer 4242')).toBe(`Bearer ${REDACTED}`);
  });
});

describe('redactError', () => {
  const r = redactor('s3cr3t', 'tk9');

  it('redacts the message, the stack and the string fields in place, keeping the class', () => {
    class ExecError extends Error {
      constructor(
        message: string,
        readonly stderr: string,
        readonly code: number,
      ) {
        super(message);
      }
    }
    const e = new ExecError('helm failed: password s3cr3t rejected', 'Error: token tk9 is invalid', 1);
    const out = redactError(e, r);
    expect(out).toBe(e);
    expect(out).toBeInstanceOf(ExecError);
    expect(out.message).toBe(`helm failed: password ${REDACTED} rejected`);
    expect(out.stack).not.toContain('s3cr3t');
    expect((out as ExecError).stderr).toBe(`Error: token ${REDACTED} is invalid`);
    expect((out as ExecError).code).toBe(1);
  });

  it('redacts the whole cause chain and nested data', () => {
    const root = Object.assign(new Error('connect to https://u:s3cr3t@h failed'), {
      response: { body: { message: 'bad tk9' }, headers: { authorization: 'Bearer tk9' } },
    });
    const e = new Error('fetch failed', { cause: new Error('middle s3cr3t', { cause: root }) });
    redactError(e, r);
    const middle = e.cause as Error;
    const inner = middle.cause as Error & { response: { body: { message: string }; headers: Record<string, string> } };
    expect(middle.message).toBe(`middle ${REDACTED}`);
    expect(inner.message).not.toContain('s3cr3t');
    expect(inner.response.body.message).toBe(`bad ${REDACTED}`);
    expect(inner.response.headers.authorization).toBe(`Bearer ${REDACTED}`);
  });

  it('redacts every error of an AggregateError', () => {
    const e = new AggregateError([new Error('a s3cr3t'), 'b tk9'], 'all failed');
    redactError(e, r);
    expect(e.errors.map((x: unknown) => (x instanceof Error ? x.message : x))).toEqual([
      `a ${REDACTED}`,
      `b ${REDACTED}`,
    ]);
  });

  it('survives cycles', () => {
    const e = new Error('loop s3cr3t') as Error & { self?: unknown };
    e.self = { back: e };
    expect(redactError(e, r).message).toBe(`loop ${REDACTED}`);
  });

  it('replaces a frozen error by a plain one carrying the redacted text', () => {
    const e = Object.freeze(new TypeError('frozen s3cr3t'));
    const out = redactError(e, r);
    expect(out.message).toBe(`frozen ${REDACTED}`);
    expect(out.name).toBe('TypeError');
    expect(out.stack).not.toContain('s3cr3t');
  });

  it('turns anything thrown into an Error', () => {
    expect(redactError('plain s3cr3t', r).message).toBe(`plain ${REDACTED}`);
    expect(redactError({ detail: 'obj s3cr3t' }, r).message).not.toContain('s3cr3t');
  });

  it('without a redactor, uses every redactor of the process and masks URL credentials', () => {
    const own = redactor('process-wide-secret-77');
    expect(own).toBeInstanceOf(Redactor);
    const e = redactError(new Error('late: process-wide-secret-77 at https://u:p@h/x'));
    expect(e.message).toBe(`late: ${REDACTED} at https://${REDACTED}@h/x`);
  });
});
