/**
 * Lab helpers for the seed host (test/lab/seed-host): make sure its sshd is
 * up, and give each test its own sandbox (login key, root, stand-in log).
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '../..');
const SEED_HOST = path.join(REPO, 'test/lab/seed-host');
const LAB = process.env.CAPI_LAB_DIR ?? path.join(REPO, '.lab');

export interface SeedHost {
  port: number;
  /** The sshd's host key, `ssh-ed25519 AAAA...` (no comment). */
  hostKey: string;
  user: string;
}

/** Start (or check) the lab seed host; cheap when it is already up. */
export function seedHost(): SeedHost {
  execFileSync(path.join(SEED_HOST, 'up.sh'), { stdio: ['ignore', 'ignore', 'inherit'] });
  const env = fs.readFileSync(path.join(LAB, 'env.d/seed-host.sh'), 'utf8');
  const port = Number(/CAPI_LAB_SEED_SSH_PORT=(\d+)/.exec(env)![1]);
  const user = /CAPI_LAB_SEED_SSH_USER='([^']+)'/.exec(env)![1]!;
  const hostKey = fs
    .readFileSync(path.join(LAB, 'seed-host/host_key.pub'), 'utf8')
    .trim()
    .split(/\s+/)
    .slice(0, 2)
    .join(' ');
  return { port, hostKey, user };
}

export class Sandbox {
  readonly dir: string;
  readonly privateKey: string;
  readonly volumeId: string;
  private seen = 0;

  constructor(readonly name: string) {
    this.dir = execFileSync(path.join(SEED_HOST, 'sandbox.sh'), ['create', name], { encoding: 'utf8' }).trim();
    this.privateKey = fs.readFileSync(path.join(this.dir, 'id_ed25519'), 'utf8');
    this.volumeId = fs.readFileSync(path.join(this.dir, 'volume-id'), 'utf8').trim();
  }

  /** A fresh sandbox with a name unique to this run. */
  static create(prefix: string): Sandbox {
    return new Sandbox(`${prefix}-${crypto.randomBytes(3).toString('hex')}`);
  }

  get root(): string {
    return path.join(this.dir, 'root');
  }

  /** Stand-in calls since the last time this was asked. */
  newCalls(): string[] {
    const all = fs.readFileSync(path.join(this.dir, 'calls.log'), 'utf8').split('\n').filter(Boolean);
    const out = all.slice(this.seen);
    this.seen = all.length;
    return out;
  }

  /** Drop the session once, at the first stand-in call that starts with `callPrefix`. */
  armFault(callPrefix: string): void {
    fs.writeFileSync(path.join(this.dir, 'fault'), callPrefix);
  }

  remove(): void {
    execFileSync(path.join(SEED_HOST, 'sandbox.sh'), ['remove', this.name], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
}

/** Write a K3s stand-in binary reporting `version`; returns its path. */
export function makeK3s(version: string, dir: string): string {
  const out = path.join(dir, `k3s-${version}`);
  execFileSync(path.join(SEED_HOST, 'make-k3s.sh'), [version, out]);
  return out;
}
