import { describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import {
  fingerprint,
  formatHostKey,
  HostKeyCheck,
  HostKeyMismatchError,
  keyTypeOf,
  parseHostKey,
} from '../../src/ssh/host-key.js';
import { LineSplitter, remotePath, shq } from '../../src/ssh/lines.js';
import { checkPrivateKey, SshKeyError } from '../../src/ssh/client.js';
import { waitForSsh } from '../../src/ssh/wait.js';
import type { SshSession } from '../../src/ssh/client.js';

// A real host key and the fingerprint `ssh-keygen -lf` prints for it.
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKO2o17a5ph0qpBeKmvDThHcjktZCMkV9K7HtaPqn97z capi-lab-seed-host';
const KEY_FP = 'SHA256:TqAkC0TL9PEabUCW8T1WYP5TuYVzLhdNeduD4+hzRfM';

function otherKey(): string {
  return ssh2.utils.generateKeyPairSync('ed25519').public;
}

describe('host keys', () => {
  it('computes OpenSSH fingerprints', () => {
    expect(fingerprint(KEY)).toBe(KEY_FP);
    expect(fingerprint(parseHostKey(KEY))).toBe(KEY_FP);
  });

  it('round-trips a key without its comment', () => {
    const blob = parseHostKey(KEY);
    expect(keyTypeOf(blob)).toBe('ssh-ed25519');
    expect(formatHostKey(blob)).toBe(KEY.split(' ').slice(0, 2).join(' '));
  });

  it('rejects malformed keys and a type that does not match the data', () => {
    expect(() => parseHostKey('nonsense')).toThrow(/expected a host key/);
    expect(() => parseHostKey('ssh-ed25519 !!!')).toThrow(/expected a host key/);
    expect(() => parseHostKey(`ssh-rsa ${KEY.split(' ')[1]}`)).toThrow(
      /says "ssh-rsa" but its data is a "ssh-ed25519"/,
    );
  });

  it('trusts the first key when none is pinned and records it', () => {
    const check = new HostKeyCheck('seed:22', undefined);
    expect(check.trustOnFirstUse).toBe(true);
    expect(check.verify(parseHostKey(KEY))).toBe(true);
    expect(check.seen).toBe(KEY.split(' ').slice(0, 2).join(' '));
  });

  it('accepts the pinned key and refuses another one, naming both fingerprints', () => {
    expect(new HostKeyCheck('seed:22', KEY).verify(parseHostKey(KEY))).toBe(true);
    const other = otherKey();
    const check = new HostKeyCheck('seed:22', KEY);
    expect(check.verify(parseHostKey(other))).toBe(false);
    expect(check.mismatch).toBeInstanceOf(HostKeyMismatchError);
    expect(check.mismatch!.message).toContain(KEY_FP);
    expect(check.mismatch!.message).toContain(fingerprint(other));
    expect(check.mismatch!.message).toMatch(/seed\.ssh\.hostKey/);
  });
});

describe('private keys', () => {
  it('accepts an OpenSSH key and refuses garbage without echoing it', () => {
    const { private: priv } = ssh2.utils.generateKeyPairSync('ed25519');
    expect(() => checkPrivateKey(priv)).not.toThrow();
    const secret = 'not-a-key-but-a-secret-value';
    let err: unknown;
    try {
      checkPrivateKey(secret);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SshKeyError);
    expect((err as Error).message).not.toContain(secret);
  });
});

describe('lines and quoting', () => {
  it('splits chunks into lines, keeping a partial line for flush', () => {
    const got: string[] = [];
    const s = new LineSplitter((l) => got.push(l));
    s.push('a\nb');
    s.push('c\r\nd');
    expect(got).toEqual(['a', 'bc']);
    s.flush();
    expect(got).toEqual(['a', 'bc', 'd']);
  });

  it('quotes for a POSIX shell and expands ~/ remotely', () => {
    expect(shq("it's")).toBe(`'it'\\''s'`);
    expect(remotePath('~/.cache/x y')).toBe(`"$HOME"/'.cache/x y'`);
    expect(remotePath('/etc/a')).toBe(`'/etc/a'`);
  });
});

describe('waitForSsh', () => {
  const target = { host: 'seed', port: 22, user: 'ubuntu', privateKey: 'k' };
  const fakeSession = { hostKey: KEY } as unknown as SshSession;

  it('retries until the server answers, printing progress with the last error', async () => {
    let calls = 0;
    const lines: string[] = [];
    const s = await waitForSsh(target, {
      timeoutMs: 5000,
      intervalMs: 10,
      progressMs: 20,
      log: (m) => lines.push(m),
      connect: async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 10));
        if (calls < 5) throw new Error('connect ECONNREFUSED 10.0.0.5:22');
        return fakeSession;
      },
    });
    expect(s).toBe(fakeSession);
    expect(calls).toBe(5);
    expect(lines.some((l) => /still waiting for SSH on ubuntu@seed:22 .*ECONNREFUSED/.test(l))).toBe(true);
  });

  it('gives up at once on a changed host key', async () => {
    let calls = 0;
    await expect(
      waitForSsh(target, {
        timeoutMs: 5000,
        intervalMs: 10,
        connect: () => {
          calls++;
          throw new HostKeyMismatchError('seed:22', 'SHA256:a', 'SHA256:b');
        },
      }),
    ).rejects.toBeInstanceOf(HostKeyMismatchError);
    expect(calls).toBe(1);
  });

  it('times out naming the last error', async () => {
    await expect(
      waitForSsh(target, {
        timeoutMs: 50,
        intervalMs: 10,
        connect: () => Promise.reject(new Error('Timed out while waiting for handshake')),
      }),
    ).rejects.toThrow(
      /timed out after .* waiting for SSH on ubuntu@seed:22 \(last seen: Timed out while waiting for handshake\)/,
    );
  });
});
