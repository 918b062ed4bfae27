/**
 * One fault-injection seed of seed-infra on the lab, shared by the lab test
 * (8 seeds, asserted) and `npm run bench -- faults` (30 seeds, figures).
 *
 * A seed: apply through the fault proxy until a run succeeds, check with the
 * admin cloud (all projects, not through the proxy) that exactly one of each
 * resource exists and a fresh plan is empty, then destroy through the proxy
 * until a run succeeds and check that nothing is left. Along the way it
 * keeps the evidence that the faults happened and that every request of the
 * tool went through the proxy.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RestOpenStackClient } from '../../src/openstack/client.js';
import { parseCloud } from '../../src/openstack/cloud-config.js';
import type { ServiceType } from '../../src/openstack/session.js';
import { Transport, type HttpMethod, type HttpResponse } from '../../src/openstack/transport.js';
import { hasChanges } from '../../src/plan/plan.js';
import { FaultProxy, type FaultKind } from './fault-proxy.js';
import {
  inventory,
  labClient,
  labEnvironment,
  NOTHING,
  ONE_SEED,
  seedEngine,
  uniqueName,
  writeProxiedClouds,
  type Inventory,
} from './seed-infra-lab.js';

export interface FaultSettings {
  /** Share of requests that get a fault. */
  rate: number;
  /** Share of POSTs: a create answered with a failure after it took effect is what breeds duplicates. */
  postRate: number;
  /** Runs of apply (or destroy) allowed per seed: a run may give up when faults pile up; the next must pick up. */
  maxRuns: number;
  /** Per request: a hang fault costs this much; too short and a slow lab looks like a fault. */
  timeoutMs: number;
}

const DEFAULT_FAULTS: FaultSettings = { rate: 0.12, postRate: 0.4, maxRuns: 8, timeoutMs: 6000 };

export interface SeedResult {
  seed: number;
  /** Faults injected, per kind. */
  kinds: Partial<Record<FaultKind, number>>;
  faults: number;
  /** Faults that hit a POST after the service had acted on it. */
  postAfter: number;
  applyRuns: number;
  destroyRuns: number;
  /** Requests the proxy received while this seed ran; requests the tool's clients sent. */
  proxied: number;
  sent: number;
  /** URLs the tool's clients sent anywhere but the proxy (should be none). */
  direct: string[];
  /** Service endpoints as the clients found them in the (rewritten) catalog. */
  endpoints: string[];
  /** Exactly one of each resource after apply, and a fresh plan with no changes. */
  converged: boolean;
  /** Resources present more than once after apply (`kind: count`). */
  duplicates: string[];
  /** Resources still there after destroy (`kind: count`). */
  leaks: string[];
  ms: number;
  /** Why the seed did not get through, if it did not. */
  error?: string;
  /** Failed runs, for the report. */
  failures: string[];
}

/** A Transport that notes every URL, so a test can show no request bypassed the proxy. */
class RecordingTransport extends Transport {
  readonly urls: string[] = [];
  override send(
    service: string,
    method: HttpMethod,
    url: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<HttpResponse> {
    this.urls.push(url);
    return super.send(service, method, url, headers, body);
  }
}

const AFTER_KINDS: readonly FaultKind[] = ['error-after', 'reset-after', 'timeout-after'];
const SERVICES: readonly ServiceType[] = ['compute', 'network', 'image', 'block-storage'];

export class FaultSeeds {
  private constructor(
    readonly proxy: FaultProxy,
    private readonly proxiedClouds: string,
    private readonly settings: FaultSettings,
    private readonly admin: RestOpenStackClient,
    private readonly demo: RestOpenStackClient,
  ) {}

  /** A proxy (faults off) and a clouds.yaml whose `lab` cloud logs in through it; the catalog follows. */
  static async start(settings: Partial<FaultSettings> = {}): Promise<FaultSeeds> {
    const admin = labClient('lab-admin');
    const demo = labClient('lab');
    const proxy = await FaultProxy.start({ seed: 1, rate: 0 });
    const file = writeProxiedClouds(proxy, fs.mkdtempSync(path.join(os.tmpdir(), 'capi-faults-')));
    return new FaultSeeds(proxy, file, { ...DEFAULT_FAULTS, ...settings }, admin, demo);
  }

  async close(): Promise<void> {
    await this.proxy.close();
    fs.rmSync(path.dirname(this.proxiedClouds), { recursive: true, force: true });
  }

  /** The proxy's base URL: every request of the tool must start with it. */
  get proxyBase(): string {
    return `http://127.0.0.1:${this.proxy.port}/_up/`;
  }

  async runSeed(seedNo: number): Promise<SeedResult> {
    const start = Date.now();
    const loaded = labEnvironment(uniqueName(`fi${seedNo}`), {}, this.proxiedClouds);
    const { tag, seedName } = loaded.desired;
    const transports: RecordingTransport[] = [];
    const failures: string[] = [];
    const clientFor = () => {
      const transport = new RecordingTransport({ timeoutMs: this.settings.timeoutMs });
      transports.push(transport);
      return new RestOpenStackClient(parseCloud(fs.readFileSync(this.proxiedClouds, 'utf8'), 'lab'), {
        transport,
        // Few attempts on purpose: some runs give up mid-way, and the next run must pick up from there.
        retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 },
      });
    };
    /** Run until one run succeeds; each run is a fresh start (new client, new token), as after a crash. */
    const untilDone = async (op: 'apply' | 'destroy'): Promise<number> => {
      for (let run = 1; run <= this.settings.maxRuns; run++) {
        try {
          const { engine } = seedEngine(loaded, { client: clientFor() });
          await (op === 'apply' ? engine.apply() : engine.destroy());
          return run;
        } catch (e) {
          failures.push(`${op} run ${run}: ${(e as Error).message.slice(0, 160)}`);
        }
      }
      throw new Error(`${op} did not succeed in ${this.settings.maxRuns} runs`);
    };

    const faultsBefore = this.proxy.faults.length;
    const requestsBefore = this.proxy.requests;
    const faultsOn = (seed: number) =>
      this.proxy.configure({
        seed,
        rate: this.settings.rate,
        postRate: this.settings.postRate,
        // Whatever the draws, at least one create fails after it took effect.
        forcePost: AFTER_KINDS[seedNo % AFTER_KINDS.length],
      });
    const faultsOff = () => this.proxy.configure({ rate: 0, postRate: 0, forcePost: undefined });
    const result: SeedResult = {
      seed: seedNo,
      kinds: {},
      faults: 0,
      postAfter: 0,
      applyRuns: 0,
      destroyRuns: 0,
      proxied: 0,
      sent: 0,
      direct: [],
      endpoints: [],
      converged: false,
      duplicates: [],
      leaks: [],
      ms: 0,
      failures,
    };
    try {
      faultsOn(seedNo * 7919);
      result.applyRuns = await untilDone('apply');

      // Check through a fault-free path: exactly one of each, and nothing left to do.
      faultsOff();
      const after = await inventory(this.admin, this.demo, tag, seedName);
      result.duplicates = differences(after, ONE_SEED, (n, want) => n > want);
      const missing = differences(after, ONE_SEED, (n, want) => n < want);
      const check = clientFor();
      const replanClean = !hasChanges(await seedEngine(loaded, { client: check }).engine.plan());
      for (const s of SERVICES) result.endpoints.push(await check.session.endpoint(s));
      result.converged = replanClean && missing.length === 0 && result.duplicates.length === 0;
      if (!result.converged)
        failures.push(`after apply: missing [${missing.join(', ')}], plan empty: ${String(replanClean)}`);

      faultsOn(seedNo * 104729);
      result.destroyRuns = await untilDone('destroy');
      faultsOff();
      result.leaks = differences(await inventory(this.admin, this.demo, tag, seedName), NOTHING, (n, want) => n > want);
    } catch (e) {
      result.error = (e as Error).message;
    } finally {
      faultsOff();
      const injected = this.proxy.faults.slice(faultsBefore);
      result.faults = injected.length;
      for (const f of injected) result.kinds[f.kind] = (result.kinds[f.kind] ?? 0) + 1;
      result.postAfter = injected.filter((f) => f.method === 'POST' && AFTER_KINDS.includes(f.kind)).length;
      result.proxied = this.proxy.requests - requestsBefore;
      const urls = transports.flatMap((t) => t.urls);
      result.sent = urls.length;
      result.direct = urls.filter((u) => !u.startsWith(this.proxyBase));
      result.ms = Date.now() - start;
      // Whatever happened, leave nothing behind (directly, without faults).
      await seedEngine(labEnvironment(loaded.desired.name)).engine.destroy();
    }
    return result;
  }
}

function differences(have: Inventory, want: Partial<Inventory>, bad: (n: number, want: number) => boolean): string[] {
  return (Object.keys(want) as Array<keyof Inventory>)
    .filter((k) => bad(have[k], want[k] ?? 0))
    .map((k) => `${k}: ${have[k]}`);
}
