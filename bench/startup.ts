/**
 * `npm run bench -- startup`: the cold start of `validate`. Each run is a
 * new node process on a bundle (dist/index.js as the runner starts it,
 * dist/cli/index.js as a user does), timed side by side with `node -e 0`,
 * in turns, so load on the shared machine falls on all alike. CPU is
 * user + sys of the process (bash's `times`, from getrusage). Also: the
 * size of every bundle file, and which of them `validate` loads.
 *
 * Which bundles: the committed dist/ by default. BENCH_DIST=DIR[,DIR...]
 * measures other builds of `node scripts/package.mjs DIR` in the same run;
 * the word `build` there builds the working tree into a temp dir first
 * (minutes). E.g. BENCH_DIST=dist,build gives before and after a change.
 * BENCH_RUNS sets the rounds (default 9).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';

const REPO = path.resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const TARGET_CPU_MS = 300;
const TARGET_MAIN_MB = 5;

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

/** The bundles to measure, as directories laid out like dist/. */
function distDirs(): Array<{ label: string; dir: string }> {
  const asked = (process.env.BENCH_DIST ?? 'dist').split(',').filter(Boolean);
  return asked.map((d) => {
    if (d !== 'build') return { label: d, dir: path.resolve(REPO, d) };
    const dir = path.join(tmp, 'build');
    console.log('building the working tree into a temp dir (node scripts/package.mjs) ...');
    execFileSync(process.execPath, [path.join(REPO, 'scripts', 'package.mjs'), dir], { cwd: REPO, stdio: 'inherit' });
    return { label: 'build', dir };
  });
}

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

interface Case {
  label: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The dist dir it runs from (none for node -e 0). */
  dist?: string;
}

interface Sample {
  cpu: number;
  wall: number;
}

/**
 * Runs argv under bash and reads the child's CPU from `times` (the children's
 * line, before and after, so nothing bash ran first counts) and its wall
 * time from EPOCHREALTIME. stdin is not the pipe node would give: bash takes
 * a socket on stdin for rshd and then runs ~/.bashrc, whose children would
 * count; --norc says the same.
 */
function measure(c: Case): Sample {
  const script =
    'times; t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1; s=$?; t1=$EPOCHREALTIME; times; echo "$t0 $t1"; exit $s';
  const r = spawnSync('bash', ['--norc', '-c', script, 'bench', ...c.argv], {
    env: c.env,
    cwd: c.cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.status !== 0) throw new Error(`bench: ${c.label} (${c.argv.join(' ')}) exited ${r.status}`);
  const lines = r.stdout.trim().split('\n');
  const cpu = (line: string): number =>
    [...line.matchAll(/(\d+)m([\d.]+)s/g)].reduce((n, m) => n + Number(m[1]) * 60 + Number(m[2]), 0);
  const [t0, t1] = lines[4]!.split(' ').map(Number);
  return { cpu: cpu(lines[3]!) - cpu(lines[1]!), wall: t1! - t0! };
}

/** The bundle files one run loads (a module hook records them), relative to its dist dir. */
function loadedFiles(c: Case): string[] {
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
  const r = spawnSync(c.argv[0]!, ['--import', path.join(tmp, 'register.mjs'), ...c.argv.slice(1)], {
    env: c.env,
    cwd: c.cwd,
  });
  if (r.status !== 0) throw new Error(`bench: ${c.label} exited ${r.status}: ${String(r.stderr)}`);
  const dist = c.dist! + path.sep;
  return [...new Set(fs.readFileSync(log, 'utf8').split('\n').filter(Boolean))]
    .map((u) => new URL(u).pathname)
    .filter((p) => p.startsWith(dist))
    .map((p) => path.relative(c.dist!, p));
}

function walk(dir: string, base = dir): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? walk(path.join(dir, e.name), base) : [path.relative(base, path.join(dir, e.name))],
    );
}

const MB = (bytes: number): string => (bytes / 1e6).toFixed(2);
const ms = (s: number): string => `${Math.round(s * 1000)} ms`;
const size = (dist: string, files: string[]): number =>
  files.reduce((n, f) => n + fs.statSync(path.join(dist, f)).size, 0);

const node = process.execPath;

try {
  const dists = distDirs();
  const baseline: Case = { label: 'node -e 0', argv: [node, '-e', '0'], env: { PATH: process.env.PATH }, cwd: REPO };
  const cases: Case[] = [baseline];
  for (const d of dists) {
    const tag = dists.length > 1 ? `${d.label}: ` : '';
    cases.push(
      {
        label: `${tag}action validate`,
        argv: [node, path.join(d.dir, 'index.js')],
        env: actionEnv(),
        cwd: workspace,
        dist: d.dir,
      },
      {
        label: `${tag}CLI validate`,
        argv: [
          node,
          path.join(d.dir, 'cli', 'index.js'),
          'validate',
          '--env',
          'bench',
          '--environments-dir',
          path.join(workspace, 'environments'),
        ],
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
        cwd: workspace,
        dist: d.dir,
      },
    );
  }

  // Each bundle really validates (else a quick failure would look like a fast start).
  const loaded = new Map<Case, string[]>();
  for (const c of cases.slice(1)) {
    if (c.env.GITHUB_STEP_SUMMARY) fs.writeFileSync(c.env.GITHUB_STEP_SUMMARY, '');
    loaded.set(c, loadedFiles(c));
    if (c.env.GITHUB_STEP_SUMMARY) {
      const summary = fs.readFileSync(c.env.GITHUB_STEP_SUMMARY, 'utf8');
      if (!/environment is valid/.test(summary)) throw new Error(`bench: ${c.label} did not validate:\n${summary}`);
    }
  }

  // One warm-up of each (disk cache), then RUNS rounds, each case once per round.
  for (const c of cases) measure(c);
  const samples = cases.map(() => [] as Sample[]);
  for (let i = 0; i < RUNS; i++) cases.forEach((c, j) => samples[j]!.push(measure(c)));

  const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
  const median = (xs: number[]): number => sorted(xs)[Math.floor(xs.length / 2)]!;
  const stats = samples.map((xs) => ({
    cpuMin: sorted(xs.map((x) => x.cpu))[0]!,
    cpu: median(xs.map((x) => x.cpu)),
    wall: median(xs.map((x) => x.wall)),
  }));
  const base = stats[0]!.cpu;
  const width = Math.max(...cases.map((c) => c.label.length));
  console.log(`cold start of validate, ${RUNS} rounds, the cases in turns (CPU = user + sys of the process)\n`);
  const row = (cols: string[]): string =>
    [cols[0]!.padEnd(width), ...cols.slice(1).map((c, i) => c.padStart([10, 9, 12, 14, 11][i]!))].join('  ');
  console.log(row(['', 'CPU median', 'CPU min', '× node -e 0', 'over node -e 0', 'wall median']));
  cases.forEach((c, i) => {
    const st = stats[i]!;
    const ratio = `${(st.cpu / base).toFixed(2)}×`;
    const over = i === 0 ? '' : ms(st.cpu - base);
    console.log(row([c.label, ms(st.cpu), ms(st.cpuMin), ratio, over, ms(st.wall)]));
  });

  console.log('\nbundle files, MB (main = what node starts; chunks load on import())');
  for (const d of dists) {
    const files = walk(d.dir)
      .filter((f) => f.endsWith('.js'))
      .sort((a, b) => fs.statSync(path.join(d.dir, b)).size - fs.statSync(path.join(d.dir, a)).size);
    const byFace = (cli: boolean): string[] => files.filter((f) => f.startsWith(`cli${path.sep}`) === cli);
    for (const [face, list] of [
      ['action', byFace(false)],
      ['CLI', byFace(true)],
    ] as const) {
      const main = face === 'CLI' ? path.join('cli', 'index.js') : 'index.js';
      const chunks = list.filter((f) => f !== main);
      console.log(
        `${d.label} ${face}: main ${main} ${MB(size(d.dir, [main]))}; ${chunks.length} chunks ${MB(size(d.dir, chunks))}; total ${MB(size(d.dir, list))}`,
      );
      if (chunks.length > 0)
        console.log(`  ${chunks.map((f) => `${path.basename(f)} ${MB(size(d.dir, [f]))}`).join(', ')}`);
    }
  }

  console.log('\nloaded by validate');
  for (const c of cases.slice(1)) {
    const files = loaded.get(c)!;
    console.log(`${c.label.padEnd(width)}  ${MB(size(c.dist!, files))} MB: ${files.join(' + ')}`);
  }

  console.log('\ntargets');
  cases.slice(1).forEach((c, i) => {
    const cpu = stats[i + 1]!.cpu * 1000;
    const main = size(c.dist!, [c.label.endsWith('CLI validate') ? path.join('cli', 'index.js') : 'index.js']) / 1e6;
    console.log(
      `${c.label.padEnd(width)}  CPU ≤ ${TARGET_CPU_MS} ms: ${cpu <= TARGET_CPU_MS ? 'met' : 'NOT met'} (${Math.round(cpu)} ms); main file ≤ ${TARGET_MAIN_MB} MB: ${main <= TARGET_MAIN_MB ? 'met' : 'NOT met'} (${main.toFixed(2)} MB)`,
    );
  });
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
