/** src/ssh against the lab seed host's real OpenSSH server. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import {
  connectSsh,
  fingerprint,
  HostKeyMismatchError,
  SshConnectionLostError,
  waitForSsh,
  type SshSession,
} from '../../src/ssh/index.js';
import { Sandbox, seedHost, type SeedHost } from './ssh-sandbox.js';

let host: SeedHost;
let sb: Sandbox;
const open: SshSession[] = [];

const target = (o: { hostKey?: string } = {}) => ({
  host: '127.0.0.1',
  port: host.port,
  user: host.user,
  privateKey: sb.privateKey,
  ...o,
});

async function connect(o: Parameters<typeof connectSsh>[0]): Promise<SshSession> {
  const s = await connectSsh(o);
  open.push(s);
  return s;
}

beforeAll(() => {
  host = seedHost();
  sb = Sandbox.create('ssh');
});

afterAll(async () => {
  for (const s of open) await s.close();
  sb?.remove();
});

describe('ssh against the lab seed host', () => {
  it('trusts the host key on first use and reports it', async () => {
    const s = await connect(target());
    expect(s.trustedOnFirstUse).toBe(true);
    expect(s.hostKey).toBe(host.hostKey);
  });

  it('streams output as prefixed lines and returns the exit code', async () => {
    const s = await connect(target({ hostKey: host.hostKey }));
    expect(s.trustedOnFirstUse).toBe(false);
    const lines: string[] = [];
    const r = await s.exec('echo one; echo two >&2; printf three; exit 3', {
      log: (l) => lines.push(l),
      prefix: '[seed] ',
    });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('one\nthree');
    expect(lines.sort()).toEqual(['[seed] one', '[seed] three', '[seed] two']);
    await expect(s.run('false')).rejects.toThrow(/failed with exit code 1/);
  });

  it('uploads with a verified checksum, and skips an identical file', async () => {
    const s = await connect(target({ hostKey: host.hostKey }));
    const data = crypto.randomBytes(3 * 1024 * 1024);
    const first = await s.upload({ data }, '~/.cache/capi-mgmt/blob', { mode: '0755' });
    expect(first).toEqual({ sha256: crypto.createHash('sha256').update(data).digest('hex'), uploaded: true });
    const onSeed = path.join(sb.dir, 'home/.cache/capi-mgmt/blob');
    expect(fs.readFileSync(onSeed).equals(data)).toBe(true);
    expect(fs.statSync(onSeed).mode & 0o777).toBe(0o755);
    expect(fs.existsSync(`${onSeed}.part`)).toBe(false);
    expect((await s.upload({ data }, '~/.cache/capi-mgmt/blob')).uploaded).toBe(false);
  });

  it('refuses a changed host key, naming both fingerprints', async () => {
    const pinned = ssh2.utils.generateKeyPairSync('ed25519').public;
    const err = await connectSsh(target({ hostKey: pinned })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    const msg = (err as Error).message;
    expect(msg).toContain(`expected ${fingerprint(pinned)}`);
    expect(msg).toContain(`offered ${fingerprint(host.hostKey)}`);
  });

  it('goes through a jump host (the same sshd as its own jump host)', async () => {
    const s = await connect({
      ...target({ hostKey: host.hostKey }),
      jumpHost: { host: '127.0.0.1', port: host.port, user: host.user, hostKey: host.hostKey },
    });
    const r = await s.run('echo "via jump: $CAPI_LAB_SANDBOX"');
    expect(r.stdout.trim()).toBe(`via jump: ${sb.name}`);
    // A wrong jump host key is refused too.
    const bad = ssh2.utils.generateKeyPairSync('ed25519').public;
    await expect(
      connectSsh({ ...target(), jumpHost: { host: '127.0.0.1', port: host.port, user: host.user, hostKey: bad } }),
    ).rejects.toBeInstanceOf(HostKeyMismatchError);
  });

  it('forwards a local port to a host:port as seen from the server, until closed', async () => {
    const s = await connect(target({ hostKey: host.hostKey }));
    const fwd = await s.forwardLocal('127.0.0.1', host.port);
    const banner = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(fwd.port, '127.0.0.1');
      sock.once('data', (d) => {
        resolve(d.toString());
        sock.destroy();
      });
      sock.once('error', reject);
    });
    expect(banner).toMatch(/^SSH-2\.0-OpenSSH/);
    await fwd.close();
    await expect(
      new Promise((resolve, reject) =>
        net.connect(fwd.port, '127.0.0.1').once('connect', resolve).once('error', reject),
      ),
    ).rejects.toThrow(/ECONNREFUSED/);
  });

  it('reports a connection lost in the middle of a command', async () => {
    const s = await connect(target({ hostKey: host.hostKey }));
    // Kill this session's sshd process: the connection drops with the command running.
    const err = await s.exec('kill -TERM "$CAPI_LAB_SESSION_SSHD"; sleep 5').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshConnectionLostError);
    await new Promise((r) => setTimeout(r, 100));
    expect(s.isClosed).toBe(true);
  });

  it('waits for SSH while the server is not up yet, with progress lines', async () => {
    // A port that answers only after a while: a TCP relay to the lab sshd, started late.
    const relay = net.createServer((c) => {
      const up = net.connect(host.port, '127.0.0.1');
      c.pipe(up).pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
    });
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    const lines: string[] = [];
    const t0 = Date.now();
    setTimeout(() => relay.listen(port, '127.0.0.1'), 2500);
    try {
      const s = await waitForSsh(
        { ...target({ hostKey: host.hostKey }), port },
        { timeoutMs: 20_000, intervalMs: 300, progressMs: 1000, log: (l) => lines.push(l) },
      );
      open.push(s);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(2400);
      expect((await s.run('echo up')).stdout).toBe('up\n');
      expect(
        lines.some(
          (l) => l.startsWith(`still waiting for SSH on ${host.user}@127.0.0.1:${port}`) && /ECONNREFUSED/.test(l),
        ),
      ).toBe(true);
    } finally {
      relay.close();
    }
  });
});
