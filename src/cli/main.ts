/**
 * The terminal face: `capi-mgmt <command> --env NAME ...`.
 * Exit codes: 0 success, 1 invalid config or failed run, 2 changes present
 * (plan/drift with --detailed-exitcode), 64 usage error.
 */
import fs from 'node:fs';
import os from 'node:os';
import readline from 'node:readline/promises';
import { Command as Cli, CommanderError, InvalidArgumentError, Option } from 'commander';
import { COMMANDS, type Command } from '../engine/engine.js';
import type { RunDirs } from '../engine/types.js';
import { hasChanges } from '../plan/plan.js';
import { renderJson, renderText } from '../plan/render.js';
import type { RunOutcome } from '../session/outcome.js';
import { commandPolicy } from '../session/policy.js';
import { runCommand, type LockRequest, type SessionRequest } from '../session/session.js';
import { toolCacheFromEnv } from '../tools/index.js';
import type { LayerFactory } from '../layers/index.js';
import { TerminalLogger } from './logger.js';
import { abandonedHere, cliHolder } from './lock-holder.js';
import { decryptKubeconfig } from './decrypt-kubeconfig.js';

export const EXIT = { ok: 0, failed: 1, changes: 2, usage: 64 } as const;

export interface CliDeps {
  argv: string[];
  env?: Record<string, string | undefined>;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  stdin?: NodeJS.ReadableStream;
  stdinIsTty?: boolean;
  layers?: LayerFactory;
  /** Where and how the lock is taken (tests: other places, quicker polling). */
  lock?: Partial<Omit<LockRequest, 'timeoutSeconds' | 'onHeldChange'>>;
}

interface Opts {
  env: string;
  environmentsDir: string;
  json?: boolean;
  yes?: boolean;
  detailedExitcode?: boolean;
  backup: string;
  reconcile?: boolean;
  expectHash?: string;
  sshPrivateKeyFile?: string;
  lockTimeout: number;
  verbose?: boolean;
}

const seconds = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number of seconds');
  return n;
};

export async function main(deps: CliDeps): Promise<number> {
  const env = deps.env ?? process.env;
  const out = deps.stdout ?? process.stdout;
  const err = deps.stderr ?? process.stderr;
  const write = (s: string, to = out): void => void to.write(s.endsWith('\n') ? s : `${s}\n`);
  if (deps.argv[0] === 'decrypt-kubeconfig') return decryptKubeconfig(deps.argv.slice(1), { stdout: out, stderr: err });

  const program = new Cli('capi-mgmt')
    .description('Deploy and keep a standalone Cluster API management cluster on OpenStack in its desired state.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => err.write(s) })
    .addOption(
      new Option('--env <name>', 'environment to use (a directory under --environments-dir)').makeOptionMandatory(),
    )
    .option('--environments-dir <dir>', 'where environments live', env.CAPI_MGMT_ENVIRONMENTS_DIR ?? 'environments')
    .option('--json', 'print the plan as JSON on stdout')
    .option('--yes', 'apply, destroy or restore without asking')
    .option('--detailed-exitcode', 'plan/drift: exit 2 when there are changes')
    .option('--backup <name>', 'restore: backup name or "latest"', 'latest')
    .option('--reconcile', 'drift: apply what drifted')
    .option('--expect-hash <sha256>', 'apply: refuse unless the fresh plan has this hash')
    .option('--ssh-private-key-file <path>', 'seed SSH private key (else $CAPI_MGMT_SSH_PRIVATE_KEY)')
    .option('--lock-timeout <seconds>', 'how long a changing command waits for another run to finish', seconds, 900)
    .option('-v, --verbose', 'show before/after of every change')
    .argument('<command>', `one of: ${COMMANDS.join(', ')}`)
    .showHelpAfterError('(run capi-mgmt --help for usage)');

  let command: Command;
  let opts: Opts;
  try {
    program.parse(deps.argv, { from: 'user' });
    const arg = program.args[0] ?? '';
    if (!COMMANDS.includes(arg as Command)) {
      write(`capi-mgmt: unknown command "${arg}"; expected one of: ${COMMANDS.join(', ')}`, err);
      return EXIT.usage;
    }
    command = arg as Command;
    opts = program.opts<Opts>();
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw e;
  }

  let sshPrivateKey = env.CAPI_MGMT_SSH_PRIVATE_KEY;
  if (opts.sshPrivateKeyFile) {
    try {
      sshPrivateKey = fs.readFileSync(opts.sshPrivateKeyFile, 'utf8');
    } catch {
      write(`capi-mgmt: cannot read --ssh-private-key-file ${opts.sshPrivateKeyFile}`, err);
      return EXIT.usage;
    }
  }

  const log = new TerminalLogger(err, { debug: Boolean(env.CAPI_MGMT_DEBUG) });
  const policy = commandPolicy(command, { reconcile: opts.reconcile });
  const dirs: RunDirs = { temp: os.tmpdir(), toolCache: toolCacheFromEnv(env) };
  const request = (lock?: LockRequest): SessionRequest => ({
    command,
    environment: opts.env,
    environmentsDir: opts.environmentsDir,
    log,
    dirs,
    env,
    secrets: { sshPrivateKey },
    reconcile: opts.reconcile,
    layers: deps.layers,
    lock,
    onLoaded: (l) => log.setRedactor(l.redactor),
  });
  // The same lock as the action's, so a terminal run and a CI run never change one environment at once.
  const lock: LockRequest = {
    holder: cliHolder(),
    timeoutSeconds: opts.lockTimeout,
    abandoned: abandonedHere,
    ...deps.lock,
  };

  let expectedHash = opts.expectHash;
  if (policy.needsConfirmation && !opts.yes) {
    const confirmed = await confirm(command, opts, deps, request(), write);
    if (typeof confirmed === 'number') return confirmed;
    expectedHash = confirmed.hash;
  }

  const outcome = await runCommand(request(policy.takesLock ? lock : undefined), {
    backup: opts.backup,
    expectedHash,
    closeOnSignals: true,
  });
  return report(outcome, command, opts, write, err, { confirmed: expectedHash !== undefined && !opts.expectHash });
}

/**
 * Without --yes: show the plan this command would carry out and ask. The
 * answer is bound to that plan's hash; the run then refuses if the fresh
 * plan differs. Refuse outright when nobody can answer.
 */
async function confirm(
  command: Command,
  opts: Opts,
  deps: CliDeps,
  request: SessionRequest,
  write: (s: string, to?: NodeJS.WritableStream) => void,
): Promise<{ hash: string } | number> {
  const err = deps.stderr ?? process.stderr;
  if (!(deps.stdinIsTty ?? process.stdin.isTTY)) {
    write(`capi-mgmt: ${command} changes real resources; pass --yes to run it without a terminal`, err);
    return EXIT.usage;
  }
  const preview = await runCommand(request, { preview: true, closeOnSignals: true });
  if (!preview.ok || !preview.plan) return report(preview, 'plan', opts, write, err);
  write(renderText(preview.plan, { verbose: opts.verbose }), err);
  if (!hasChanges(preview.plan) && command !== 'restore') {
    write(`${command}: nothing to do, ${opts.env} is already in the desired state.`);
    return EXIT.ok;
  }
  const rl = readline.createInterface({ input: deps.stdin ?? process.stdin, output: err });
  const answer = await rl.question(`Type "yes" to ${command} ${opts.env} as planned above: `);
  rl.close();
  if (answer.trim() !== 'yes') {
    write('capi-mgmt: cancelled; nothing was changed', err);
    return EXIT.failed;
  }
  return { hash: preview.plan.hash };
}

function appliedLine(command: Command, env: string, outcome: RunOutcome): string {
  const applied = outcome.applied ?? [];
  if (applied.length === 0) return `${command}: nothing to do, ${env} was already in the desired state.`;
  const by = new Map<string, number>();
  for (const c of applied) by.set(c.action, (by.get(c.action) ?? 0) + 1);
  const parts = [...by].map(([a, n]) => `${n} ${a}`).join(', ');
  return `${command}: ${applied.length} change(s) made to ${env} (${parts}).`;
}

function report(
  outcome: RunOutcome,
  command: Command,
  opts: Opts,
  write: (s: string, to?: NodeJS.WritableStream) => void,
  err: NodeJS.WritableStream,
  o: { confirmed?: boolean } = {},
): number {
  if (outcome.failureReason === 'invalid-config') {
    write(outcome.configError.format(), err);
    write(`capi-mgmt: environment ${opts.env} is invalid (${outcome.configError.issues.length} problem(s))`, err);
    return EXIT.failed;
  }
  const changing = commandPolicy(command, { reconcile: opts.reconcile }).changes;
  if (outcome.plan) {
    if (opts.json) write(renderJson(outcome.plan));
    else if (!changing || !outcome.ok) write(renderText(outcome.plan, { verbose: opts.verbose }));
  }
  if (outcome.ok && changing && !opts.json) write(appliedLine(command, opts.env, outcome));
  if (!outcome.ok) {
    const why =
      outcome.failureReason === 'plan-changed' && o.confirmed
        ? 'the plan changed since you confirmed it (the current plan is above); nothing was changed, run again to review it'
        : outcome.error.message;
    const hint =
      outcome.missingSecret === 'sshPrivateKey'
        ? ' (pass --ssh-private-key-file or set $CAPI_MGMT_SSH_PRIVATE_KEY)'
        : '';
    write(`capi-mgmt: ${command} failed (${outcome.failureReason}): ${why}${hint}`, err);
    return EXIT.failed;
  }
  if (command === 'validate' && opts.json) write(JSON.stringify({ valid: true, environment: opts.env }));
  if ((command === 'plan' || command === 'drift') && opts.detailedExitcode && outcome.changes && !opts.reconcile) {
    return EXIT.changes;
  }
  return EXIT.ok;
}
