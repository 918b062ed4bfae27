/**
 * GitHubApi over @actions/github's Octokit (GITHUB_API_URL is honoured for
 * GHES and tests). Octokit is loaded at the first call, so a run that never
 * calls GitHub (validate) does not pay for loading it.
 */
import type * as github from '@actions/github';
import type { GitHubApi, Issue, IssueComment, MergedPull } from './api.js';

type Octokit = ReturnType<typeof github.getOctokit>;

const login = (u: { login?: string } | null | undefined): string => u?.login ?? '';

export class OctokitApi implements GitHubApi {
  private client?: Promise<Octokit>;

  constructor(
    private readonly token: string,
    private readonly repo: { owner: string; repo: string },
    private readonly apiUrl = process.env.GITHUB_API_URL,
  ) {}

  private load(): Promise<Octokit> {
    this.client ??= import('@actions/github').then((gh) =>
      gh.getOctokit(this.token, this.apiUrl ? { baseUrl: this.apiUrl } : {}),
    );
    return this.client;
  }

  async currentLogin(): Promise<string> {
    const octokit = await this.load();
    const { data } = await octokit.rest.users.getAuthenticated();
    return data.login;
  }

  async listIssueComments(issue: number): Promise<IssueComment[]> {
    const octokit = await this.load();
    const all = await octokit.paginate(octokit.rest.issues.listComments, {
      ...this.repo,
      issue_number: issue,
      per_page: 100,
    });
    return all.map((c) => ({ id: c.id, body: c.body ?? '', author: login(c.user) }));
  }

  async createIssueComment(issue: number, body: string): Promise<IssueComment> {
    const octokit = await this.load();
    const { data } = await octokit.rest.issues.createComment({ ...this.repo, issue_number: issue, body });
    return { id: data.id, body: data.body ?? '', author: login(data.user) };
  }

  async updateIssueComment(id: number, body: string): Promise<void> {
    const octokit = await this.load();
    await octokit.rest.issues.updateComment({ ...this.repo, comment_id: id, body });
  }

  async pullsForCommit(sha: string): Promise<MergedPull[]> {
    const octokit = await this.load();
    const { data } = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({
      ...this.repo,
      commit_sha: sha,
    });
    return data.map((p) => ({
      number: p.number,
      issueUrl: p.issue_url,
      mergeCommitSha: p.merge_commit_sha ?? undefined,
      merged: Boolean(p.merged_at),
    }));
  }

  async listOpenIssues(creator: string): Promise<Issue[]> {
    const octokit = await this.load();
    const all = await octokit.paginate(octokit.rest.issues.listForRepo, {
      ...this.repo,
      state: 'open',
      creator,
      per_page: 100,
    });
    // The issues list also holds pull requests.
    return all.filter((i) => !i.pull_request).map(toIssue);
  }

  async createIssue(title: string, body: string): Promise<Issue> {
    const octokit = await this.load();
    const { data } = await octokit.rest.issues.create({ ...this.repo, title, body });
    return toIssue(data);
  }

  async updateIssue(issue: number, change: { body?: string; state?: 'open' | 'closed' }): Promise<void> {
    const octokit = await this.load();
    await octokit.rest.issues.update({ ...this.repo, issue_number: issue, ...change });
  }
}

function toIssue(i: {
  number: number;
  title: string;
  body?: string | null;
  user: { login?: string } | null;
  state: string;
}): Issue {
  return {
    number: i.number,
    title: i.title,
    body: i.body ?? '',
    author: login(i.user),
    state: i.state === 'closed' ? 'closed' : 'open',
  };
}
