/** An in-memory GitHubApi for unit tests of the flows (the HTTP stand-in is github-api.ts). */
import type { GitHubApi, Issue, IssueComment, MergedPull } from '../../src/github/api.js';

export class MemoryGitHub implements GitHubApi {
  comments: Array<IssueComment & { issue: number }> = [];
  issues: Issue[] = [];
  pulls = new Map<string, MergedPull[]>();
  private nextId = 1;

  /** `login` undefined: GET /user is refused, as for the Actions app token. */
  constructor(public login?: string) {}

  async currentLogin(): Promise<string> {
    if (!this.login) throw new Error('Resource not accessible by integration');
    return this.login;
  }
  private me(): string {
    return this.login ?? 'github-actions[bot]';
  }
  async listIssueComments(issue: number): Promise<IssueComment[]> {
    return this.comments.filter((c) => c.issue === issue).map(({ issue: _i, ...c }) => c);
  }
  async createIssueComment(issue: number, body: string): Promise<IssueComment> {
    const c = { id: this.nextId++, body, author: this.me(), issue };
    this.comments.push(c);
    return c;
  }
  /** A comment by someone else (e.g. a forged approval). */
  addForeignComment(issue: number, body: string, author: string): void {
    this.comments.push({ id: this.nextId++, body, author, issue });
  }
  async updateIssueComment(id: number, body: string): Promise<void> {
    const c = this.comments.find((x) => x.id === id);
    if (!c) throw new Error(`no comment ${id}`);
    c.body = body;
  }
  async pullsForCommit(sha: string): Promise<MergedPull[]> {
    return this.pulls.get(sha) ?? [];
  }
  async listOpenIssues(creator: string): Promise<Issue[]> {
    return this.issues.filter((i) => i.state === 'open' && i.author === creator);
  }
  async createIssue(title: string, body: string): Promise<Issue> {
    const i: Issue = { number: this.nextId++, title, body, author: this.me(), state: 'open' };
    this.issues.push(i);
    return i;
  }
  async updateIssue(issue: number, change: { body?: string; state?: 'open' | 'closed' }): Promise<void> {
    const i = this.issues.find((x) => x.number === issue);
    if (!i) throw new Error(`no issue ${issue}`);
    Object.assign(i, change);
  }
}
