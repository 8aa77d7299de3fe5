/**
 * Steady traffic through the producer's HTTP API, as websites send it: a batch of visits stamped
 * "now" every few milliseconds at a target rate, over a few accounts and stores, with every tenth
 * visit a re-sent recent one (the same id: it must never count twice). A batch refused with 503
 * (Kafka unavailable: nothing acknowledged) is sent again, unchanged, until it gets a 202, as a
 * careful client does. Keeps, per window, the distinct ids that got a 202: what the finals must say.
 */
import type { Visit } from '@eric/shared';
import { finalKey } from '@eric/shared/testing';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface TrafficOptions {
  /** The producer's HTTP port now (it may change if the producer is restarted). */
  port: () => number;
  visitsPerSecond: number;
  batchSize: number;
  windowSeconds: number;
  graceSeconds: number;
  /** Batches waiting for their 202 at most; beyond it the driver skips a beat rather than pile up. */
  maxBatchesInFlight?: number;
}

/** The acknowledged visits of one (account, store, window). */
export interface AcknowledgedWindow {
  account: number;
  store: string | null;
  start: number;
  ids: Set<string>;
  /** Ids whose 202 came only after the window's end + grace (so they may rightly be dropped as late). */
  lateIds: Set<string>;
}

const ACCOUNTS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const STORES = ['web', 'app', 'shop', null];
const RESEND_EVERY = 10;
const RECENT = 1000;

export class Traffic {
  readonly windows = new Map<string, AcknowledgedWindow>();
  /** When each 503 (or refused connection) was seen, ms. */
  readonly refusals: number[] = [];
  /** Batches not sent because too many were still waiting for a 202. */
  skippedBatches = 0;
  /** Unexpected answers (neither 202 nor 503): a bug, printed at the end. */
  readonly errors: string[] = [];
  #sequence = 0;
  #running = false;
  #loop: Promise<void> | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #recent: Visit[] = [];
  readonly #runId = Date.now().toString(36);

  constructor(private readonly options: TrafficOptions) {}

  start(): void {
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops sending new batches and waits until every batch sent got its 202. */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    await Promise.all(this.#inFlight);
  }

  /** Per window: its start, its distinct acknowledged ids, and how many of them were acknowledged late. */
  summary(): Map<string, { start: number; acknowledged: number; acknowledgedLate: number }> {
    return new Map([...this.windows].map(([key, w]) => [key, { start: w.start, acknowledged: w.ids.size, acknowledgedLate: w.lateIds.size }]));
  }

  /** When a window's final is due: its end + grace, ms. */
  closeAt(window: AcknowledgedWindow): number {
    return (window.start + this.options.windowSeconds + this.options.graceSeconds) * 1000;
  }

  /** The keys of the windows with acknowledged visits that closed (end + grace) before `at`, ms. */
  closedBefore(at: number): string[] {
    return [...this.windows].filter(([, window]) => this.closeAt(window) < at).map(([key]) => key);
  }

  /** Distinct acknowledged ids over all windows. */
  get acknowledged(): number {
    let total = 0;
    for (const window of this.windows.values()) total += window.ids.size;
    return total;
  }

  async #run(): Promise<void> {
    const { visitsPerSecond, batchSize, maxBatchesInFlight = 200 } = this.options;
    const intervalMs = (batchSize / visitsPerSecond) * 1000;
    let next = Date.now();
    while (this.#running) {
      if (this.#inFlight.size < maxBatchesInFlight) {
        const sending = this.#sendUntilAcknowledged(this.#batch()).catch((error: unknown) => {
          this.errors.push(String(error));
        });
        this.#inFlight.add(sending);
        void sending.finally(() => this.#inFlight.delete(sending));
      } else this.skippedBatches++;
      next += intervalMs;
      await sleep(Math.max(0, next - Date.now()));
    }
  }

  #batch(): Visit[] {
    const timestamp = Date.now() / 1000;
    const batch: Visit[] = [];
    for (let i = 0; i < this.options.batchSize; i++) {
      const n = this.#sequence++;
      if (n % RESEND_EVERY === RESEND_EVERY - 1 && this.#recent.length > 0) {
        batch.push(this.#recent[(n * 7919) % this.#recent.length]!);
      } else {
        batch.push({ id: `${this.#runId}-${n}`, account_id: ACCOUNTS[n % ACCOUNTS.length]!, store_id: STORES[Math.floor(n / ACCOUNTS.length) % STORES.length]!, timestamp });
      }
    }
    return batch;
  }

  async #sendUntilAcknowledged(batch: Visit[]): Promise<void> {
    const body = JSON.stringify(batch);
    for (;;) {
      const status = await this.#post(body);
      if (status === 202) break;
      if (status !== 503 && status !== 0) throw new Error(`ingestion answered ${status}`);
      this.refusals.push(Date.now());
      await sleep(250);
    }
    this.#record(batch, Date.now());
  }

  /** The HTTP status, or 0 when the connection was refused or dropped. */
  async #post(body: string): Promise<number> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.options.port()}/v1/visits`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return 0;
    }
  }

  #record(batch: Visit[], acknowledgedAt: number): void {
    const { windowSeconds, graceSeconds } = this.options;
    for (const visit of batch) {
      const start = Math.floor(visit.timestamp / windowSeconds) * windowSeconds;
      const key = finalKey(visit.account_id, visit.store_id, start);
      let window = this.windows.get(key);
      if (!window) this.windows.set(key, (window = { account: visit.account_id, store: visit.store_id, start, ids: new Set(), lateIds: new Set() }));
      // Late only if its first 202 was late: a re-sent copy of a visit acknowledged in time is not.
      if (!window.ids.has(visit.id) && acknowledgedAt > (start + windowSeconds + graceSeconds) * 1000) window.lateIds.add(visit.id);
      window.ids.add(visit.id);
      this.#recent.push(visit);
    }
    if (this.#recent.length > RECENT) this.#recent.splice(0, this.#recent.length - RECENT);
  }
}
