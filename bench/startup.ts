/**
 * `npm run bench -- startup`: the cold start of `validate`. Each run is a
 * new node process on a committed bundle (dist/index.js as the runner starts
 * it, dist/cli/index.js as a user does), timed side by side with
 * `node -e 0`, in turns, so load on the shared machine falls on all alike.
 * CPU is user + sys of the process (bash's `times`, from getrusage). Also:
 * which bundle files `validate` loads, and their size.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';

const REPO = path.resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const TARGET_CPU_S = 0.3;
const TARGET_BUNDLE_MB = 5;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'capi-bench-startup-'));
const workspace = path.join(tmp, 'ws');
const envDir = path.join(workspace, 'environments', 'bench');
fs.mkdirSync(envDir, { recursive: true });
// A valid environment; validate reads it and touches no network.
fs.writeFileSync(
  path.join(envDir, 'clouds.yaml'),
  'clouds:\n  bench:\n    auth:\n      auth_url: "http://127.0.0.1:9/v3"\n      application_credential_id: "bench"\n      application_credential_secret: "bench-secret"\n    auth_type: v3applicationcredential\n',
);
fs.writeFileSync(
  path.join(envDir, 'environment.yaml'),
  'openstack:\n  cloud: bench\n  cloudsYamlFile: clouds.yaml\nseed:\n  sshPublicKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk bench\n',
);

/** The environment the runner gives a step: action.yml's input defaults, the GitHub variables, file commands. */
function actionEnv(): NodeJS.ProcessEnv {
  const files = path.join(tmp, 'runner');
  fs.mkdirSync(path.join(files, 'temp'), { recursive: true });
  const file = (name: string, text = ''): string => {
    fs.writeFileSync(path.join(files, name), text);
    return path.join(files, name);
  };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: workspace,
    GITHUB_REPOSITORY: 'acme/platform',
    GITHUB_EVENT_NAME: 'push',
    GITHUB_EVENT_PATH: file('event.json', '{"ref":"refs/heads/main"}'),
    GITHUB_SHA: 'b2'.repeat(20),
    GITHUB_REF: 'refs/heads/main',
    GITHUB_RUN_ID: '1',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: 'http://127.0.0.1:9',
    RUNNER_TEMP: path.join(files, 'temp'),
    GITHUB_OUTPUT: file('output'),
    GITHUB_STATE: file('state'),
    GITHUB_STEP_SUMMARY: file('summary'),
    GITHUB_ENV: file('env'),
    GITHUB_PATH: file('path'),
  };
  const inputs = (
    parse(fs.readFileSync(path.join(REPO, 'action.yml'), 'utf8')) as {
      inputs: Record<string, { default?: string }>;
    }
  ).inputs;
  const given: Record<string, string> = { command: 'validate', environment: 'bench' };
  for (const [name, spec] of Object.entries(inputs)) {
    // The runner always passes github-token (its default is the job's token).
    const value = given[name] ?? (spec.default?.includes('github.token') ? 'ghs_benchtoken' : spec.default);
    if (value !== undefined) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  }
  return env;
}

interface Sample {
  cpu: number;
  wall: number;
}

/** Runs argv under bash and reads the child's CPU from `times` and its wall time from EPOCHREALTIME. */
function measure(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Sample {
  const script = 't0=$EPOCHREALTIME; "$@" >/dev/null 2>&1; s=$?; t1=$EPOCHREALTIME; times; echo "$t0 $t1"; exit $s';
  const r = spawnSync('bash', ['-c', script, 'bench', ...argv], { env, cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench: ${argv.join(' ')} exited ${r.status}`);
  const lines = r.stdout.trim().split('\n');
  const seconds = [...lines[1]!.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  const [t0, t1] = lines[2]!.split(' ').map(Number);
  return { cpu: seconds[0]! + seconds[1]!, wall: t1! - t0! };
}

/** The files under dist/ one run loads (a module hook records them), with their total size. */
function loadedFiles(argv: string[], env: NodeJS.ProcessEnv, cwd: string): { files: string[]; bytes: number } {
  const log = path.join(tmp, 'loaded.txt');
  fs.writeFileSync(log, '');
  fs.writeFileSync(
    path.join(tmp, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) {\n  if (url.startsWith('file:')) appendFileSync(${JSON.stringify(log)}, url + '\\n');\n  return next(url, context);\n}\n`,
  );
  fs.writeFileSync(
    path.join(tmp, 'register.mjs'),
    `import { register } from 'node:module';\nregister(${JSON.stringify(new URL('hooks.mjs', `file://${tmp}/`).href)});\n`,
  );
  const r = spawnSync(argv[0]!, ['--import', path.join(tmp, 'register.mjs'), ...argv.slice(1)], { env, cwd });
  if (r.status !== 0) throw new Error(`bench: ${argv.join(' ')} exited ${r.status}: ${String(r.stderr)}`);
  const dist = path.join(REPO, 'dist') + path.sep;
  const files = [...new Set(fs.readFileSync(log, 'utf8').split('\n').filter(Boolean))]
    .map((u) => new URL(u).pathname)
    .filter((p) => p.startsWith(dist));
  return { files: files.map((f) => path.relative(REPO, f)), bytes: files.reduce((n, f) => n + fs.statSync(f).size, 0) };
}

const node = process.execPath;
const cases: Array<{ label: string; argv: string[]; env: NodeJS.ProcessEnv; cwd: string }> = [
  { label: 'node -e 0', argv: [node, '-e', '0'], env: { PATH: process.env.PATH }, cwd: REPO },
  {
    label: 'action: node dist/index.js',
    argv: [node, path.join(REPO, 'dist/index.js')],
    env: actionEnv(),
    cwd: workspace,
  },
  {
    label: 'CLI: node dist/cli/index.js validate',
    argv: [
      node,
      path.join(REPO, 'dist/cli/index.js'),
      'validate',
      '--env',
      'bench',
      '--environments-dir',
      path.join(workspace, 'environments'),
    ],
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    cwd: workspace,
  },
];

try {
  const action = cases[1]!;
  const traced = loadedFiles(action.argv, action.env, action.cwd);
  const summary = fs.readFileSync(action.env.GITHUB_STEP_SUMMARY!, 'utf8');
  if (!/environment is valid/.test(summary)) throw new Error(`bench: validate did not succeed:\n${summary}`);

  // One warm-up of each (disk cache), then RUNS rounds, each case once per round.
  for (const c of cases) measure(c.argv, c.env, c.cwd);
  const samples = cases.map(() => [] as Sample[]);
  for (let i = 0; i < RUNS; i++) cases.forEach((c, j) => samples[j]!.push(measure(c.argv, c.env, c.cwd)));

  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)]!;
  const s = (x: number) => `${x.toFixed(3)} s`;
  const stats = samples.map((xs) => ({
    cpuMin: sorted(xs.map((x) => x.cpu))[0]!,
    cpuMedian: median(xs.map((x) => x.cpu)),
    wallMedian: median(xs.map((x) => x.wall)),
  }));
  const width = Math.max(...cases.map((c) => c.label.length));
  console.log(`cold start of validate, ${RUNS} runs each, side by side (CPU = user + sys)\n`);
  console.log(`${''.padEnd(width)}  CPU min    CPU median  over node -e 0  wall median`);
  cases.forEach((c, i) => {
    const st = stats[i]!;
    const over = i === 0 ? '' : s(st.cpuMedian - stats[0]!.cpuMedian);
    console.log(
      `${c.label.padEnd(width)}  ${s(st.cpuMin).padEnd(9)}  ${s(st.cpuMedian).padEnd(10)}  ${over.padEnd(14)}  ${s(st.wallMedian)}`,
    );
  });
  const mb = traced.bytes / 1e6;
  console.log(`\naction bundle loaded by validate: ${mb.toFixed(2)} MB (${traced.files.join(' + ')})`);
  const cpu = stats[1]!.cpuMedian;
  console.log(
    `targets: CPU ≤ ${TARGET_CPU_S} s: ${cpu <= TARGET_CPU_S ? 'met' : 'NOT met'} (${s(cpu)}); bundle ≤ ${TARGET_BUNDLE_MB} MB: ${mb <= TARGET_BUNDLE_MB ? 'met' : 'NOT met'} (${mb.toFixed(2)} MB)`,
  );
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
