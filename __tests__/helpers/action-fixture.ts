/**
 * A workspace for action tests: an environment directory whose clouds.yaml
 * is the lab's, an age identity, a management kubeconfig full of secrets,
 * and the GitHub and results-service stand-ins.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { startGitHubApi, type GitHubStandIn } from './github-api.js';
import { runStep, repoRoot, type StepOptions } from './action-runner.js';
import { startResultsService, type ResultsStandIn } from './results-service.js';
import { labSecrets, scanForSecrets } from './secret-scan.js';

export { scanForSecrets };

const TOKENS = { app: 'ghs_actionsapptoken0001', pat: 'ghp_deploybotpat0001', mallory: 'ghp_mallorypat0001' };

export interface Fixture {
  dir: string;
  workspace: string;
  stateDir: string;
  environment: string;
  github: GitHubStandIn;
  results: ResultsStandIn;
  identity: string;
  recipient: string;
  kubeconfig: string;
  /** Every secret of the run, the GitHub tokens and the lab's passwords: none may appear in any output. */
  secrets: string[];
  sshKey: string;
  runId: number;
  /** Calls the stand-ins refused or could not route since the last look; tests assert none after each test. */
  unexpectedCalls(): string[];
  step(
    o: Partial<StepOptions> & Pick<StepOptions, 'inputs' | 'eventName' | 'event' | 'sha'>,
  ): ReturnType<typeof runStep>;
  close(): Promise<void>;
}

export const labCloudsYamlPath = path.join(repoRoot, '.lab/clouds.yaml');

/** The lab's clouds.yaml (the OpenStack lock marker is real then), else a stand-in with a secret. */
function cloudsYaml(): string {
  if (fs.existsSync(labCloudsYamlPath)) return fs.readFileSync(labCloudsYamlPath, 'utf8');
  return [
    'clouds:',
    '  lab:',
    '    auth_type: v3applicationcredential',
    '    auth:',
    '      auth_url: "http://127.0.0.1:9/v3"',
    '      application_credential_id: "0123456789abcdef"',
    '      application_credential_secret: "standin-appcred-secret-42"',
    '',
  ].join('\n');
}

export async function makeFixture(o: {
  environment: string;
  seedKubeconfig?: string;
  recipients?: boolean;
}): Promise<Fixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capi-action-'));
  const workspace = path.join(dir, 'ws');
  const envDir = path.join(workspace, 'environments', o.environment);
  fs.mkdirSync(envDir, { recursive: true });
  const clouds = cloudsYaml();
  fs.writeFileSync(path.join(envDir, 'clouds.yaml'), clouds);
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  fs.writeFileSync(
    path.join(envDir, 'environment.yaml'),
    [
      'openstack:',
      '  cloud: lab',
      '  cloudsYamlFile: clouds.yaml',
      'seed:',
      '  sshPublicKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk test',
      'kubeconfig:',
      `  ageRecipients: [${o.recipients === false ? '' : recipient}]`,
      '  retentionDays: 2',
      '',
    ].join('\n'),
  );
  const token = 'mgmt-sa-token-7f3a9c1e5b2d4f6a8c0e';
  const clientKey = Buffer.from(
    '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBm9f3kqkey-material-for-tests\n-----END EC PRIVATE KEY-----\n',
  ).toString('base64');
  const kubeconfig = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: mgmt',
    '  cluster: {server: "https://203.0.113.10:6443", insecure-skip-tls-verify: true}',
    'users:',
    '- name: admin',
    `  user: {token: ${token}, client-key-data: ${clientKey}}`,
    'contexts:',
    '- name: mgmt',
    '  context: {cluster: mgmt, user: admin}',
    'current-context: mgmt',
    '',
  ].join('\n');
  const mgmtFile = path.join(dir, 'mgmt.kubeconfig');
  fs.writeFileSync(mgmtFile, kubeconfig, { mode: 0o600 });
  const sshKey = fs.readFileSync(path.join(repoRoot, '.lab/seed_key'), 'utf8');
  const appSecret = /application_credential_secret:\s*"?([^"\n]+)"?/.exec(clouds)?.[1] ?? '';
  const secrets = [
    appSecret,
    token,
    clientKey,
    ...sshKey.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----')),
    ...Object.values(TOKENS),
    ...labSecrets(path.join(repoRoot, '.lab')),
  ];

  const github = await startGitHubApi({
    tokens: { [TOKENS.app]: 'github-actions[bot]', [TOKENS.pat]: 'deploy-bot', [TOKENS.mallory]: 'mallory' },
  });
  const results = await startResultsService();
  const stateDir = path.join(dir, 'state');
  let runId = 9000;
  const f: Fixture = {
    dir,
    workspace,
    stateDir,
    environment: o.environment,
    github,
    results,
    identity,
    recipient,
    kubeconfig,
    secrets,
    sshKey,
    runId,
    unexpectedCalls: () => [
      ...github.takeUnexpected().map((c) => `GitHub API: ${c}`),
      ...results.takeUnexpected().map((c) => `results service: ${c}`),
    ],
    step: (s) => {
      const id = ++runId;
      return runStep({
        workspace,
        token: TOKENS.app,
        apiUrl: github.url,
        resultsUrl: results.url,
        runtimeToken: results.runtimeToken(`run-backend-${id}`, `job-backend-${id}`),
        runId: id,
        ...s,
        inputs: { environment: o.environment, 'ssh-private-key': sshKey, ...s.inputs },
        env: {
          CAPI_MGMT_TEST_STATE: stateDir,
          CAPI_MGMT_TEST_MGMT_KUBECONFIG: mgmtFile,
          ...(o.seedKubeconfig ? { CAPI_MGMT_TEST_SEED_KUBECONFIG: o.seedKubeconfig } : {}),
          ...s.env,
        },
      });
    },
    close: async () => {
      await github.close();
      await results.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return f;
}

/** Events shaped like the real payloads (only the fields anyone reads, plus a few more). */
export function pullRequestEvent(g: GitHubStandIn, number: number, sha: string): unknown {
  return {
    action: 'synchronize',
    number,
    pull_request: {
      number,
      url: `${g.url}/repos/${g.owner}/${g.repo}/pulls/${number}`,
      issue_url: g.issueUrl(number),
      head: { sha, ref: `feature-${number}` },
      base: { ref: 'main' },
      state: 'open',
    },
    repository: { full_name: `${g.owner}/${g.repo}`, name: g.repo, owner: { login: g.owner } },
  };
}

export function pushEvent(g: GitHubStandIn, sha: string): unknown {
  return {
    ref: 'refs/heads/main',
    after: sha,
    head_commit: { id: sha, message: 'Merge pull request' },
    repository: { full_name: `${g.owner}/${g.repo}`, name: g.repo, owner: { login: g.owner } },
  };
}
