/**
 * A loopback stand-in for the GitHub REST endpoints the action uses,
 * answering the real @actions/github (Octokit) client: issue comments,
 * GET /user, commits/{sha}/pulls, and issues. State is in memory.
 *
 * Like GitHub it answers 401 without a known token and 404 for a route it
 * does not serve; both are recorded in `unexpected`, which tests assert
 * empty after each test, so a call the product should not make fails.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

interface FakeComment {
  id: number;
  issue: number;
  body: string;
  login: string;
}
interface FakeIssue {
  number: number;
  title: string;
  body: string;
  login: string;
  state: 'open' | 'closed';
  isPull: boolean;
}
interface FakePull {
  number: number;
  mergeCommitSha: string | null;
  merged: boolean;
}

export interface GitHubStandIn {
  url: string;
  owner: string;
  repo: string;
  comments: FakeComment[];
  issues: FakeIssue[];
  /** commit sha -> PRs associated with it */
  commitPulls: Map<string, FakePull[]>;
  requests: Array<{ method: string; path: string; body?: string }>;
  /** Requests refused for want of a token or a route; a test fails when any are left. */
  unexpected: string[];
  /** Hand over (and forget) what was refused: for tests that provoke a refusal on purpose. */
  takeUnexpected(): string[];
  issueUrl(n: number): string;
  /** A PR (an issue with a pull_request) and its number. */
  addPull(title: string): number;
  close(): Promise<void>;
}

/** Tokens map to logins; the Actions app's login cannot call GET /user (403), like GITHUB_TOKEN. */
export async function startGitHubApi(o: {
  tokens: Record<string, string>;
  owner?: string;
  repo?: string;
}): Promise<GitHubStandIn> {
  const owner = o.owner ?? 'acme';
  const repo = o.repo ?? 'platform';
  let nextId = 1000;
  let nextNumber = 1;
  const unexpected: string[] = [];
  const s: Omit<GitHubStandIn, 'url' | 'close'> = {
    owner,
    repo,
    comments: [],
    issues: [],
    commitPulls: new Map(),
    requests: [],
    unexpected,
    takeUnexpected: () => unexpected.splice(0),
    issueUrl: () => '',
    addPull: () => 0,
  };
  let base = '';
  s.issueUrl = (n) => `${base}/repos/${owner}/${repo}/issues/${n}`;
  s.addPull = (title) => {
    const number = nextNumber++;
    s.issues.push({ number, title, body: '', login: 'octocat', state: 'open', isPull: true });
    return number;
  };

  const user = (login: string) => ({ login, id: login.length, type: login.endsWith('[bot]') ? 'Bot' : 'User' });
  const commentJson = (c: FakeComment) => ({
    id: c.id,
    body: c.body,
    user: user(c.login),
    html_url: `https://github.example/${owner}/${repo}/pull/${c.issue}#issuecomment-${c.id}`,
    issue_url: s.issueUrl(c.issue),
  });
  const issueJson = (i: FakeIssue) => ({
    number: i.number,
    title: i.title,
    body: i.body,
    user: user(i.login),
    state: i.state,
    url: s.issueUrl(i.number),
    ...(i.isPull ? { pull_request: { url: `${base}/repos/${owner}/${repo}/pulls/${i.number}` } } : {}),
  });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', base);
      s.requests.push({ method: req.method ?? '', path: url.pathname + url.search, body: raw || undefined });
      const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        res.end(body === undefined ? '' : JSON.stringify(body));
      };
      const token = /^(?:token|bearer) (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      const login = token ? o.tokens[token] : undefined;
      if (!login) {
        unexpected.push(`${req.method} ${url.pathname}: ${token ? 'unknown token' : 'no token'}`);
        return send(401, { message: token ? 'Bad credentials' : 'Requires authentication' });
      }
      let body: Record<string, unknown>;
      try {
        body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      } catch {
        unexpected.push(`${req.method} ${url.pathname}: body is not JSON`);
        return send(400, { message: 'Problems parsing JSON' });
      }
      const p = url.pathname;
      const repoPath = `/repos/${owner}/${repo}`;
      let m: RegExpExecArray | null;

      if (req.method === 'GET' && p === '/user') {
        if (login === 'github-actions[bot]') return send(403, { message: 'Resource not accessible by integration' });
        return send(200, user(login));
      }
      if ((m = new RegExp(`^${repoPath}/issues/(\\d+)/comments$`).exec(p))) {
        const issue = Number(m[1]);
        if (!s.issues.some((i) => i.number === issue)) return send(404, { message: 'Not Found' });
        if (req.method === 'GET') {
          const all = s.comments.filter((c) => c.issue === issue);
          const per = Number(url.searchParams.get('per_page') ?? 30);
          const page = Number(url.searchParams.get('page') ?? 1);
          const slice = all.slice((page - 1) * per, page * per);
          const headers: Record<string, string> = {};
          if (page * per < all.length) {
            headers.link = `<${base}${p}?per_page=${per}&page=${page + 1}>; rel="next"`;
          }
          return send(200, slice.map(commentJson), headers);
        }
        if (req.method === 'POST') {
          const c = { id: nextId++, issue, body: String(body.body), login };
          s.comments.push(c);
          return send(201, commentJson(c));
        }
      }
      if ((m = new RegExp(`^${repoPath}/issues/comments/(\\d+)$`).exec(p)) && req.method === 'PATCH') {
        const c = s.comments.find((x) => x.id === Number(m![1]));
        if (!c) return send(404, { message: 'Not Found' });
        c.body = String(body.body);
        return send(200, commentJson(c));
      }
      if ((m = new RegExp(`^${repoPath}/commits/([0-9a-f]+)/pulls$`).exec(p)) && req.method === 'GET') {
        const pulls = s.commitPulls.get(m[1]!) ?? [];
        return send(
          200,
          pulls.map((x) => ({
            number: x.number,
            state: x.merged ? 'closed' : 'open',
            issue_url: s.issueUrl(x.number),
            merge_commit_sha: x.mergeCommitSha,
            merged_at: x.merged ? '2026-07-01T12:00:00Z' : null,
            user: user('octocat'),
          })),
        );
      }
      if (p === `${repoPath}/issues` && req.method === 'GET') {
        const state = url.searchParams.get('state') ?? 'open';
        const creator = url.searchParams.get('creator');
        const list = s.issues.filter(
          (i) => (state === 'all' || i.state === state) && (!creator || i.login === creator),
        );
        return send(200, list.map(issueJson));
      }
      if (p === `${repoPath}/issues` && req.method === 'POST') {
        const i: FakeIssue = {
          number: nextNumber++,
          title: String(body.title),
          body: String(body.body ?? ''),
          login,
          state: 'open',
          isPull: false,
        };
        s.issues.push(i);
        return send(201, issueJson(i));
      }
      if ((m = new RegExp(`^${repoPath}/issues/(\\d+)$`).exec(p)) && req.method === 'PATCH') {
        const i = s.issues.find((x) => x.number === Number(m![1]));
        if (!i) return send(404, { message: 'Not Found' });
        if (typeof body.body === 'string') i.body = body.body;
        if (body.state === 'open' || body.state === 'closed') i.state = body.state;
        return send(200, issueJson(i));
      }
      unexpected.push(`no route for ${req.method} ${p}`);
      return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    ...s,
    url: base,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  } as GitHubStandIn;
}
