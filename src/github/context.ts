/**
 * What the run knows about where it runs, read once from the runner's
 * environment variables and the event payload file.
 */
import fs from 'node:fs';

export interface PullRequestRef {
  number: number;
  /** API URL of the PR's issue; salts the plan hash so it cannot be replayed on another PR. */
  issueUrl: string;
}

export interface GitHubRunContext {
  owner: string;
  repo: string;
  eventName: string;
  sha: string;
  runId: string;
  /** Link to this workflow run (the lock holder and the comment's status line). */
  runUrl: string;
  /** The PR of a pull_request(_target) event; other events find it through the API. */
  pullRequest?: PullRequestRef;
}

export function readRunContext(env: NodeJS.ProcessEnv = process.env): GitHubRunContext {
  const [owner = '', repo = ''] = (env.GITHUB_REPOSITORY ?? '/').split('/');
  const server = (env.GITHUB_SERVER_URL ?? 'https://github.com').replace(/\/+$/, '');
  const runId = env.GITHUB_RUN_ID ?? '0';
  const attempt = env.GITHUB_RUN_ATTEMPT;
  const runUrl = `${server}/${owner}/${repo}/actions/runs/${runId}${attempt && attempt !== '1' ? `/attempts/${attempt}` : ''}`;
  return {
    owner,
    repo,
    eventName: env.GITHUB_EVENT_NAME ?? '',
    sha: env.GITHUB_SHA ?? '',
    runId,
    runUrl,
    pullRequest: pullRequestOf(readEvent(env.GITHUB_EVENT_PATH)),
  };
}

function readEvent(file: string | undefined): unknown {
  if (!file || !fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function pullRequestOf(event: unknown): PullRequestRef | undefined {
  const pr = (event as { pull_request?: { number?: unknown; issue_url?: unknown } } | undefined)?.pull_request;
  if (pr && typeof pr.number === 'number' && typeof pr.issue_url === 'string') {
    return { number: pr.number, issueUrl: pr.issue_url };
  }
  return undefined;
}
