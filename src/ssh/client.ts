/**
 * The SSH boundary: one small interface (`SshSession`) over the `ssh2`
 * library, so layers can run commands, upload files and forward ports
 * without knowing the protocol.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import './esm-globals.js'; // before ssh2
import ssh2, { type ClientChannel, type ConnectConfig } from 'ssh2';
import { HostKeyCheck } from './host-key.js';
import { LineSplitter, remotePath, shq } from './lines.js';
import { openLocalForward, type PortForward } from './forward.js';

const { Client, utils } = ssh2;
type Ssh2Client = InstanceType<typeof Client>;

interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** Pinned host key (`ssh-ed25519 AAAA...`); without one the first key seen is trusted. */
  hostKey?: string;
}

export interface SshConnectOptions extends SshTarget {
  /** OpenSSH or PEM private key text. Never logged. */
  privateKey: string;
  /** Reach the target through this host (same private key). */
  jumpHost?: SshTarget;
  /** Handshake timeout of one attempt. */
  readyTimeoutMs?: number;
}

export interface ExecOptions {
  /** Data for the command's stdin (closed afterwards). */
  stdin?: string | Buffer | Readable;
  /** Each output line, prefixed (e.g. `[seed] `), goes here; without it output is only captured. */
  log?: (line: string) => void;
  prefix?: string;
  /** Called with each stdout line (after logging). */
  onLine?: (line: string) => void;
}

export interface ExecResult {
  /** Exit code; null when the command died by a signal. */
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

export interface UploadResult {
  sha256: string;
  /** False when the remote file already had the same content. */
  uploaded: boolean;
}

export interface SshSession {
  /** The target's host key as seen in this connection (`ssh-ed25519 AAAA...`). */
  readonly hostKey: string;
  /** True when the host key was not pinned and was trusted on first use. */
  readonly trustedOnFirstUse: boolean;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** exec, but a non-zero exit is an error (naming the command's last stderr line). */
  run(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Copy a local file (or bytes) to `remote` (`~/` allowed), verified by the remote `sha256sum`. */
  upload(source: { path: string } | { data: Buffer }, remote: string, opts?: { mode?: string }): Promise<UploadResult>;
  /** Listen on 127.0.0.1:<free port> and forward each connection to host:port as seen from the target. */
  forwardLocal(host: string, port: number): Promise<PortForward>;
  /** True once the connection has closed (for whatever reason). */
  readonly isClosed: boolean;
  close(): Promise<void>;
}

/** The connection went away while a command was running (the command's fate is unknown). */
export class SshConnectionLostError extends Error {
  constructor(what: string) {
    super(`SSH connection lost while ${what}`);
    this.name = 'SshConnectionLostError';
  }
}

export class SshCommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: ExecResult,
  ) {
    const last = result.stderr.trim().split('\n').pop() ?? '';
    super(
      `remote command ${command.split('\n')[0]!.slice(0, 60)} failed with ${result.code === null ? `signal ${result.signal ?? '?'}` : `exit code ${result.code}`}${last ? `: ${last}` : ''}`,
    );
    this.name = 'SshCommandError';
  }
}

/** Thrown for a private key that does not parse; never includes the key. */
export class SshKeyError extends Error {
  constructor(reason: string) {
    super(`the SSH private key cannot be used: ${reason}`);
    this.name = 'SshKeyError';
  }
}

export function checkPrivateKey(privateKey: string): void {
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new SshKeyError(parsed.message.replace(/\n.*/s, ''));
}

const MAX_CAPTURE = 4 * 1024 * 1024;

/** Open one ssh2 connection (over `sock` when going through a jump host). */
async function open(
  target: SshTarget,
  privateKey: string,
  readyTimeout: number,
  sock?: ClientChannel,
): Promise<{ client: Ssh2Client; check: HostKeyCheck }> {
  const check = new HostKeyCheck(`${target.host}:${target.port}`, target.hostKey);
  const client = new Client();
  const cfg: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.user,
    privateKey,
    readyTimeout,
    // Notice a dead peer (seed rebooted, NAT dropped us) instead of hanging.
    keepaliveInterval: 15_000,
    keepaliveCountMax: 4,
    hostVerifier: (key: Buffer) => check.verify(key),
    ...(sock ? { sock } : {}),
  };
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', reject);
      client.connect(cfg);
    });
  } catch (e) {
    client.end();
    throw check.mismatch ?? e;
  }
  client.on('error', () => undefined); // late errors surface as 'close'
  return { client, check };
}

/**
 * Connect to a target, through its jump host if it has one. Host keys are
 * checked for both hops; a changed pinned key is a `HostKeyMismatchError`.
 */
export async function connectSsh(o: SshConnectOptions): Promise<SshSession> {
  checkPrivateKey(o.privateKey);
  const readyTimeout = o.readyTimeoutMs ?? 20_000;
  if (!o.jumpHost) {
    const { client, check } = await open(o, o.privateKey, readyTimeout);
    return new Ssh2Session(client, check);
  }
  const jump = await open(o.jumpHost, o.privateKey, readyTimeout);
  try {
    const stream = await new Promise<ClientChannel>((resolve, reject) =>
      jump.client.forwardOut('127.0.0.1', 0, o.host, o.port, (err, ch) => (err ? reject(err) : resolve(ch))),
    );
    const { client, check } = await open(o, o.privateKey, readyTimeout, stream);
    client.once('close', () => jump.client.end());
    return new Ssh2Session(client, check, jump.client);
  } catch (e) {
    jump.client.end();
    throw e;
  }
}

class Ssh2Session implements SshSession {
  private closed = false;
  private readonly forwards = new Set<PortForward>();

  constructor(
    private readonly client: Ssh2Client,
    private readonly check: HostKeyCheck,
    private readonly jump?: Ssh2Client,
  ) {
    client.once('close', () => {
      this.closed = true;
    });
  }

  get hostKey(): string {
    return this.check.seen ?? '';
  }

  get trustedOnFirstUse(): boolean {
    return this.check.trustOnFirstUse;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed) throw new SshConnectionLostError(`starting ${command.split('\n')[0]!.slice(0, 60)}`);
    const channel = await new Promise<ClientChannel>((resolve, reject) =>
      this.client.exec(command, (err, ch) => (err ? reject(err) : resolve(ch))),
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    const prefix = opts.prefix ?? '';
    const emit = (line: string, isStdout: boolean): void => {
      opts.log?.(`${prefix}${line}`);
      if (isStdout) opts.onLine?.(line);
    };
    const outLines = new LineSplitter((l) => emit(l, true));
    const errLines = new LineSplitter((l) => emit(l, false));
    channel.on('data', (d: Buffer) => {
      if (outLen < MAX_CAPTURE) out.push(d);
      outLen += d.length;
      outLines.push(d);
    });
    channel.stderr.on('data', (d: Buffer) => {
      if (errLen < MAX_CAPTURE) err.push(d);
      errLen += d.length;
      errLines.push(d);
    });
    let code: number | null | undefined;
    let signal: string | undefined;
    channel.on('exit', (c: number | null, sig?: string) => {
      code = c;
      signal = sig ?? undefined;
    });
    const done = once(channel, 'close');
    if (opts.stdin === undefined) channel.end();
    else if (typeof opts.stdin === 'string' || Buffer.isBuffer(opts.stdin)) channel.end(opts.stdin);
    else opts.stdin.pipe(channel);
    await done;
    outLines.flush();
    errLines.flush();
    // A channel that closes without an exit status means the connection went away.
    if (code === undefined && signal === undefined) {
      throw new SshConnectionLostError(`running ${command.split('\n')[0]!.slice(0, 60)}`);
    }
    return {
      code: code ?? null,
      ...(signal ? { signal } : {}),
      stdout: Buffer.concat(out).toString(),
      stderr: Buffer.concat(err).toString(),
    };
  }

  async run(command: string, opts?: ExecOptions): Promise<ExecResult> {
    const r = await this.exec(command, opts);
    if (r.code !== 0) throw new SshCommandError(command, r);
    return r;
  }

  async upload(
    source: { path: string } | { data: Buffer },
    remote: string,
    opts: { mode?: string } = {},
  ): Promise<UploadResult> {
    const sha256 = 'path' in source ? await sha256File(source.path) : sha256Of(source.data);
    const dst = remotePath(remote);
    const have = await this.exec(`sha256sum ${dst} 2>/dev/null`);
    if (have.code === 0 && have.stdout.split(/\s/)[0] === sha256) return { sha256, uploaded: false };

    // Write to a side file, verify, then rename: a dropped upload never leaves a half file in place.
    const part = `${dst}.part`;
    const stdin = 'path' in source ? fs.createReadStream(source.path) : source.data;
    const r = await this.run(`set -e; mkdir -p "$(dirname ${dst})"; umask 077; cat > ${part}; sha256sum ${part}`, {
      stdin,
    });
    const got = r.stdout.split(/\s/)[0];
    if (got !== sha256) {
      await this.exec(`rm -f ${part}`);
      throw new Error(`upload to ${remote} is corrupt: sha256 ${got ?? '(none)'} on the remote, ${sha256} here`);
    }
    await this.run(`chmod ${shq(opts.mode ?? '0600')} ${part} && mv -f ${part} ${dst}`);
    return { sha256, uploaded: true };
  }

  async forwardLocal(host: string, port: number): Promise<PortForward> {
    const fwd = await openLocalForward(this.client, host, port);
    this.forwards.add(fwd);
    return fwd;
  }

  async close(): Promise<void> {
    for (const f of this.forwards) await f.close();
    this.forwards.clear();
    if (!this.closed) {
      const closed = once(this.client, 'close');
      this.client.end();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000).unref())]);
    }
    this.jump?.end();
  }
}

function sha256Of(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function sha256File(p: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(p)) h.update(chunk as Buffer);
  return h.digest('hex');
}
