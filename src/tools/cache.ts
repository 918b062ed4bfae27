/**
 * Two homes for downloaded artefacts: the runner's tool cache (plus the
 * Actions cache service across runs, when the runner offers it) and, for
 * the CLI, a cache directory under $XDG_CACHE_HOME. Entries appear only once
 * complete, so a crash or a failed check leaves nothing behind.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface CacheEntry {
  tool: string;
  version: string;
  arch: string;
}

export interface ArtifactCache {
  readonly kind: 'local' | 'runner';
  /** Directory of a complete entry, if cached. */
  find(e: CacheEntry): Promise<string | undefined>;
  /** Move or copy a finished staging directory into the cache; returns the entry's directory. */
  store(stagingDir: string, e: CacheEntry): Promise<string>;
  /** Where staging directories go (same filesystem as the cache where it matters). */
  stagingRoot(): string;
}

/** Where a run keeps downloaded tools; the face chooses. */
export type ToolCacheChoice =
  /** The runner's tool cache (RUNNER_TOOL_CACHE), and the Actions cache service across runs. */
  | { kind: 'runner'; dir: string }
  /** A directory of our own (the CLI: under $XDG_CACHE_HOME). */
  | { kind: 'local'; dir: string };

export function defaultCacheRoot(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'capi-mgmt');
}

/** Tool-cache keys must survive semver.clean, which drops `+build` metadata (`v1.34.8+k3s1`). */
export function cacheVersion(version: string): string {
  return version.replace(/^v/, '').replace(/\+/g, '-');
}

class LocalCache implements ArtifactCache {
  readonly kind = 'local';
  constructor(readonly root: string) {}

  private dir(e: CacheEntry): string {
    return join(this.root, e.tool, cacheVersion(e.version), e.arch);
  }

  async find(e: CacheEntry): Promise<string | undefined> {
    const d = this.dir(e);
    return existsSync(`${d}.complete`) && existsSync(d) ? d : undefined;
  }

  async store(stagingDir: string, e: CacheEntry): Promise<string> {
    const d = this.dir(e);
    await rm(`${d}.complete`, { force: true });
    await rm(d, { recursive: true, force: true });
    await mkdir(join(d, '..'), { recursive: true });
    await rename(stagingDir, d);
    await writeFile(`${d}.complete`, '');
    return d;
  }

  stagingRoot(): string {
    return join(this.root, '.staging');
  }
}

type Log = { info(m: string): void; warn(m: string): void };

class RunnerCache implements ArtifactCache {
  readonly kind = 'runner';
  constructor(
    /** RUNNER_TOOL_CACHE, which @actions/tool-cache also reads itself. */
    private readonly toolCacheDir: string,
    private readonly tempDir: string,
    private readonly log?: Log,
  ) {}

  private key(e: CacheEntry): string {
    return `capi-mgmt-${e.tool}-${cacheVersion(e.version)}-${e.arch}`;
  }

  private path(e: CacheEntry): string {
    return join(this.toolCacheDir, e.tool, cacheVersion(e.version), e.arch);
  }

  async find(e: CacheEntry): Promise<string | undefined> {
    const tc = await import('@actions/tool-cache');
    const hit = tc.find(e.tool, cacheVersion(e.version), e.arch);
    if (hit) return hit;
    const cache = await import('@actions/cache');
    if (!cache.isFeatureAvailable()) return undefined;
    try {
      const p = this.path(e);
      if (await cache.restoreCache([p, `${p}.complete`], this.key(e))) {
        this.log?.info(`restored ${e.tool} ${e.version} from the Actions cache`);
        return tc.find(e.tool, cacheVersion(e.version), e.arch) || undefined;
      }
    } catch (err) {
      this.log?.warn(`Actions cache restore failed for ${e.tool}: ${(err as Error).message}`);
    }
    return undefined;
  }

  async store(stagingDir: string, e: CacheEntry): Promise<string> {
    const tc = await import('@actions/tool-cache');
    const dir = await tc.cacheDir(stagingDir, e.tool, cacheVersion(e.version), e.arch);
    await rm(stagingDir, { recursive: true, force: true });
    const cache = await import('@actions/cache');
    if (cache.isFeatureAvailable()) {
      try {
        await cache.saveCache([dir, `${dir}.complete`], this.key(e));
      } catch (err) {
        // Another job may have saved the same key first; the tool is still usable.
        this.log?.warn(`Actions cache save skipped for ${e.tool}: ${(err as Error).message}`);
      }
    }
    return dir;
  }

  stagingRoot(): string {
    return join(this.tempDir, 'capi-mgmt-staging');
  }
}

/** The faces' choice from their environment: the runner's tool cache on a runner, else our own directory. */
export function toolCacheFromEnv(env: NodeJS.ProcessEnv): ToolCacheChoice {
  return env.RUNNER_TOOL_CACHE
    ? { kind: 'runner', dir: env.RUNNER_TOOL_CACHE }
    : { kind: 'local', dir: defaultCacheRoot(env) };
}

export function openCache(choice: ToolCacheChoice, tempDir: string, log?: Log): ArtifactCache {
  return choice.kind === 'runner' ? new RunnerCache(choice.dir, tempDir, log) : new LocalCache(choice.dir);
}
