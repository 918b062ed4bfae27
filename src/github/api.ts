/**
 * The GitHub REST calls this tool makes, and nothing more. The engine never
 * sees this; the GitHub flows do, and tests give them a loopback stand-in.
 */
export interface IssueComment {
  id: number;
  body: string;
  /** Login of the author; only our own comments are trusted. */
  author: string;
}

export interface Issue {
  number: number;
  title: string;
  body: string;
  author: string;
  state: 'open' | 'closed';
}

export interface MergedPull {
  number: number;
  issueUrl: string;
  mergeCommitSha?: string;
  merged: boolean;
}

export interface GitHubApi {
  /** Login of the token's user; the Actions app token cannot ask, so callers fall back. */
  currentLogin(): Promise<string>;
  listIssueComments(issue: number): Promise<IssueComment[]>;
  createIssueComment(issue: number, body: string): Promise<IssueComment>;
  updateIssueComment(id: number, body: string): Promise<void>;
  /** PRs associated with a commit (the merged PR of a push to main). */
  pullsForCommit(sha: string): Promise<MergedPull[]>;
  listOpenIssues(creator: string): Promise<Issue[]>;
  createIssue(title: string, body: string): Promise<Issue>;
  updateIssue(issue: number, change: { body?: string; state?: 'open' | 'closed' }): Promise<void>;
}

/** The login the GITHUB_TOKEN installation acts as; GET /user is forbidden for it. */
const ACTIONS_BOT_LOGIN = 'github-actions[bot]';

/** The token's login, falling back to the Actions bot when GET /user is refused. */
export async function whoAmI(api: GitHubApi): Promise<string> {
  try {
    return await api.currentLogin();
  } catch {
    return ACTIONS_BOT_LOGIN;
  }
}
