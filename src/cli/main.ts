/**
 * The terminal face: `capi-mgmt <command> --env NAME ...`.
 * Exit codes: 0 success, 1 invalid config or failed run, 2 changes present
 * (plan/drift with --detailed-exitcode), 64 usage error.
 */
import fs from 'node:fs';
import readline from 'node:readline/promises';
import { Command as Cli, CommanderError, Option } from 'commander';
import { COMMANDS, type Command } from '../engine/engine.js';
import { renderJson, renderText } from '../plan/render.js';
import { runCommand, type RunOutcome } from '../run.js';
import type { LayerFactory } from '../layers/index.js';
import { TerminalLogger } from './logger.js';
import { decryptKubeconfig } from './decrypt-kubeconfig.js';

export const EXIT = { ok: 0, failed: 1, changes: 2, usage: 64 } as const;

export interface CliDeps {
  argv: string[];
  env?: Record<string, string | undefined>;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  stdinIsTty?: boolean;
  layers?: LayerFactory;
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
  verbose?: boolean;
}

const MUTATING: readonly Command[] = ['apply', 'destroy', 'restore'];

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
  if (MUTATING.includes(command) && !opts.yes) {
    const ok = await confirm(command, opts, deps, log, env, write);
    if (ok !== true) return ok;
  }

  const outcome = await runCommand({
    command,
    environment: opts.env,
    environmentsDir: opts.environmentsDir,
    log,
    env,
    secrets: { sshPrivateKey },
    backup: opts.backup,
    reconcile: opts.reconcile,
    expectedHash: opts.expectHash,
    layers: deps.layers,
    onLoaded: (l) => log.setRedactor(l.redactor),
  });
  return report(outcome, command, opts, write, err);
}

/** Without --yes, show the plan and ask; refuse outright when nobody can answer. */
async function confirm(
  command: Command,
  opts: Opts,
  deps: CliDeps,
  log: TerminalLogger,
  env: Record<string, string | undefined>,
  write: (s: string, to?: NodeJS.WritableStream) => void,
): Promise<true | number> {
  const err = deps.stderr ?? process.stderr;
  if (!(deps.stdinIsTty ?? process.stdin.isTTY)) {
    write(`capi-mgmt: ${command} changes real resources; pass --yes to run it without a terminal`, err);
    return EXIT.usage;
  }
  const preview = await runCommand({
    command: 'plan',
    environment: opts.env,
    environmentsDir: opts.environmentsDir,
    log,
    env,
    layers: deps.layers,
    onLoaded: (l) => log.setRedactor(l.redactor),
  });
  if (!preview.ok) return report(preview, 'plan', opts, write, err);
  if (preview.plan) write(renderText(preview.plan), err);
  const rl = readline.createInterface({ input: process.stdin, output: err });
  const answer = await rl.question(`Type "yes" to ${command} ${opts.env}: `);
  rl.close();
  if (answer.trim() !== 'yes') {
    write('capi-mgmt: cancelled', err);
    return EXIT.failed;
  }
  return true;
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
): number {
  if (outcome.configError) {
    write(outcome.configError.format(), err);
    write(`capi-mgmt: environment ${opts.env} is invalid (${outcome.configError.issues.length} problem(s))`, err);
    return EXIT.failed;
  }
  if (outcome.plan) {
    if (opts.json) write(renderJson(outcome.plan));
    else if (!MUTATING.includes(command) || !outcome.ok) write(renderText(outcome.plan, { verbose: opts.verbose }));
  }
  if (outcome.ok && MUTATING.includes(command) && !opts.json) write(appliedLine(command, opts.env, outcome));
  if (!outcome.ok) {
    write(`capi-mgmt: ${command} failed (${outcome.failureReason}): ${outcome.error?.message ?? 'unknown error'}`, err);
    return EXIT.failed;
  }
  if (command === 'validate' && opts.json) write(JSON.stringify({ valid: true, environment: opts.env }));
  if ((command === 'plan' || command === 'drift') && opts.detailedExitcode && outcome.changes && !opts.reconcile) {
    return EXIT.changes;
  }
  return EXIT.ok;
}
