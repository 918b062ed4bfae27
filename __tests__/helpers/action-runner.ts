/**
 * Runs the action as a child process the way the runner does: inputs as
 * INPUT_* (defaults from action.yml), the GitHub environment variables,
 * file commands (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_STEP_SUMMARY), and then
 * the post step with the state main saved.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'yaml';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const tsxEntry = path.join(repoRoot, '__tests__/helpers/action-entry.ts');

export interface StepResult {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  state: Record<string, string>;
  summary: string;
}

export interface StepOptions {
  /** A bundle (dist/index.js) to run with node; else the tsx test entry. */
  bundle?: string;
  workspace: string;
  inputs: Record<string, string>;
  eventName: string;
  event: unknown;
  sha: string;
  runId: number;
  token: string;
  apiUrl: string;
  resultsUrl: string;
  runtimeToken: string;
  env?: Record<string, string>;
  /** Cancel main the way the runner does (SIGINT) or kill it (SIGKILL) once `when` resolves. */
  interrupt?: { when: () => Promise<void>; signal: NodeJS.Signals };
}

function actionDefaults(token: string): Record<string, string> {
  const doc = parse(fs.readFileSync(path.join(repoRoot, 'action.yml'), 'utf8')) as {
    inputs: Record<string, { default?: string }>;
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc.inputs)) {
    if (v.default !== undefined) out[k] = v.default === '${{ github.token }}' ? token : v.default;
  }
  return out;
}

/** `name<<DELIM\nvalue\nDELIM` blocks, as @actions/core writes file commands. */
function parseFileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i]!);
    if (!m) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]!);
    out[m[1]!] = value.join('\n');
  }
  return out;
}

function spawnNode(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  interrupt?: StepOptions['interrupt'],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    if (interrupt) void interrupt.when().then(() => child.kill(interrupt.signal));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export async function runStep(o: StepOptions): Promise<{ main: StepResult; post: StepResult }> {
  const files = fs.mkdtempSync(path.join(o.workspace, '.runner-'));
  const runnerTemp = path.join(files, 'temp');
  fs.mkdirSync(runnerTemp);
  const eventPath = path.join(files, 'event.json');
  fs.writeFileSync(eventPath, JSON.stringify(o.event));
  const inputs = { ...actionDefaults(o.token), ...o.inputs };
  const base: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: o.workspace,
    GITHUB_REPOSITORY: 'acme/platform',
    GITHUB_REPOSITORY_OWNER: 'acme',
    GITHUB_EVENT_NAME: o.eventName,
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_SHA: o.sha,
    GITHUB_REF: o.eventName === 'pull_request' ? 'refs/pull/1/merge' : 'refs/heads/main',
    GITHUB_RUN_ID: String(o.runId),
    GITHUB_RUN_NUMBER: '7',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_JOB: 'capi-mgmt',
    GITHUB_ACTOR: 'octocat',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: o.apiUrl,
    GITHUB_GRAPHQL_URL: `${o.apiUrl}/graphql`,
    RUNNER_TEMP: runnerTemp,
    RUNNER_OS: 'Linux',
    ACTIONS_RESULTS_URL: o.resultsUrl,
    ACTIONS_RUNTIME_TOKEN: o.runtimeToken,
    ...o.env,
  };
  for (const [k, v] of Object.entries(inputs)) base[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  // tsx is resolved from the repo, not from the workspace the step runs in.
  const tsx = pathToFileURL(path.join(repoRoot, 'node_modules/tsx/dist/loader.mjs')).href;
  const args = o.bundle ? [o.bundle] : ['--import', tsx, tsxEntry];

  const step = async (extra: NodeJS.ProcessEnv, tag: string): Promise<StepResult> => {
    const f = (n: string): string => {
      const p = path.join(files, `${tag}-${n}`);
      fs.writeFileSync(p, '');
      return p;
    };
    const env = {
      ...base,
      ...extra,
      GITHUB_OUTPUT: f('output'),
      GITHUB_STATE: f('state'),
      GITHUB_STEP_SUMMARY: f('summary'),
      GITHUB_ENV: f('env'),
      GITHUB_PATH: f('path'),
    };
    const r = await spawnNode(args, env, o.workspace, tag === 'main' ? o.interrupt : undefined);
    return {
      ...r,
      outputs: parseFileCommands(fs.readFileSync(env.GITHUB_OUTPUT, 'utf8')),
      state: parseFileCommands(fs.readFileSync(env.GITHUB_STATE, 'utf8')),
      summary: fs.readFileSync(env.GITHUB_STEP_SUMMARY, 'utf8'),
    };
  };
  const main = await step({}, 'main');
  // The runner hands main's saved state to post as STATE_<name>.
  const stateEnv = Object.fromEntries(Object.entries(main.state).map(([k, v]) => [`STATE_${k}`, v]));
  const post = await step(stateEnv, 'post');
  return { main, post };
}
