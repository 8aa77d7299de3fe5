/**
 * The websocket hub: who is connected, what each may and wants to see, and the fan-out of every
 * changed count to exactly those clients.
 *
 * - Clients are indexed by the account they watch, so a change reaches its watchers without a
 *   scan of everyone. A client restricted by access control to some accounts and without a filter
 *   is indexed under each of its accounts: a message of another account is never even considered
 *   for it (and `accepts` checks the scope again before every send).
 * - Every change is serialized once and the same bytes are written to each client. When several
 *   changes arrive together (the consumer hands over what Kafka fetched, so batches grow exactly
 *   when the gateway is busy), each client's frames go out in one write (cork/uncork) instead of
 *   one system call per frame.
 * - Each client's frames wait in its own SendQueue, which hands them to the socket a small window
 *   at a time: a new snapshot replaces a queued one, live frames beyond `maxBufferedBytes` mark
 *   the client too slow (closed with 1008), and every queued byte is charged to one memory budget
 *   for all clients (`memoryBudgetBytes`), from which the number of clients follows: each
 *   connection reserves its socket's write window. A client that would overdraw it is closed with
 *   1013, so no client — nor many together — can grow the gateway past its budget.
 * - Each client message may cost a snapshot, so messages are rate-limited per connection
 *   (`messagesPerSecond`, `messageBurst`); a client that floods is closed with 1008.
 * - A ping every `pingIntervalMs`; a client that has not answered the previous one is dropped, so
 *   dead peers (a laptop that went to sleep) do not pile up.
 * - Client misbehaviour (a refused message, an oversized or malformed frame, a slow reader) is a
 *   metric and a rate-limited warning, never an error: clients cannot fill the gateway's log.
 */
import type { Duplex } from 'node:stream';
import { WebSocket, type RawData } from 'ws';
import type { Logger } from '@eric/shared';
import { scopeAllows, type AccountScope } from './access.js';
import { LogThrottle } from './log-throttle.js';
import type { DropReason, GatewayMetrics } from './metrics.js';
import { encodeView, errorMessage, matchesFilter, parseClientMessage, type ClientMessageError, type Filter, type WindowView } from './protocol.js';
import { MemoryBudget, SOCKET_WRITE_WINDOW, SendQueue, type Snapshot } from './send-queue.js';
import { TokenBucket } from './token-bucket.js';

/** Close codes (RFC 6455 §7.4.1). */
const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  policyViolation: 1008,
  tryAgainLater: 1013,
} as const;

/** One warning per kind of client misbehaviour per this interval; the metrics count every event. */
const MISBEHAVIOUR_LOG_INTERVAL_MS = 10_000;

/** Snapshot sizes whose encoded frames are shared between clients at once. */
const MAX_SHARED_SNAPSHOTS = 4;

/** What each drop reason means, for the log line. */
const DROP_EXPLANATIONS: Record<DropReason, string> = {
  slow_consumer: 'websocket client dropped: it reads too slowly (send queue full)',
  ping_timeout: 'websocket client dropped: no answer to the previous ping',
  oversized_message: 'websocket client dropped: it sent a frame over the size limit (closed with 1009)',
  invalid_frame: 'websocket client dropped: it sent a malformed websocket frame',
  too_many_clients: 'websocket client turned away: too many clients (closed with 1013)',
  message_flood: 'websocket client dropped: it sent messages faster than the per-connection limit (closed with 1008)',
  memory_budget: 'websocket client dropped: its queue would overdraw the memory budget of all clients (closed with 1013)',
};

export interface HubOptions {
  /** Live-frame bytes one client may have waiting before it counts as too slow. */
  maxBufferedBytes: number;
  /** Bytes queued for all clients together (each connection reserves SOCKET_WRITE_WINDOW of it). */
  memoryBudgetBytes: number;
  /** Clients beyond this are turned away (1013): each costs memory and a share of every fan-out. */
  maxClients: number;
  /** Sustained messages per second one client may send, and how many at once. */
  messagesPerSecond: number;
  messageBurst: number;
  pingIntervalMs: number;
  snapshotWindows: number;
  /** Most views in one snapshot (newest windows first). */
  snapshotMaxKeys: number;
  logger: Logger;
  metrics: GatewayMetrics;
  /** The current counts that `include` lets through, in the `windows` most recent windows, oldest first, at most `maxKeys`. */
  snapshot(include: (view: WindowView) => boolean, windows: number, maxKeys: number): { views: WindowView[]; truncated: boolean };
  /** Changes whenever a snapshot would differ (Collator.version). */
  snapshotVersion(): number;
}

export interface ConnectOptions {
  /** The TCP socket under the websocket, to batch writes. */
  transport?: Duplex;
  /** Windows in this client's snapshots (`/ws?windows=`); the hub's default otherwise. */
  snapshotWindows?: number;
}

class Client {
  filter: Filter = {};
  /** Answered the last ping. */
  alive = true;

  constructor(
    readonly socket: WebSocket,
    readonly queue: SendQueue,
    readonly messages: TokenBucket,
    readonly scope: AccountScope,
    readonly id: number,
    /** The TCP socket under the websocket, to batch writes; absent in tests that have none. */
    readonly transport: Duplex | undefined,
    /** How many recent windows its snapshots hold. */
    readonly snapshotWindows: number,
  ) {}

  accepts(view: WindowView): boolean {
    return scopeAllows(this.scope, view.account_id) && matchesFilter(this.filter, view);
  }

  /** The accounts under which this client is indexed; null = every account. */
  indexKeys(): readonly number[] | null {
    if (this.filter.account !== undefined) return [this.filter.account];
    return this.scope.all ? null : [...this.scope.accounts];
  }
}

export class Hub {
  readonly #options: HubOptions;
  readonly #clients = new Set<Client>();
  /** Clients that see every account. */
  readonly #everyAccount = new Set<Client>();
  readonly #byAccount = new Map<number, Set<Client>>();
  readonly #heartbeat: NodeJS.Timeout;
  #nextId = 1;
  readonly #misbehaviourLog = new LogThrottle(MISBEHAVIOUR_LOG_INTERVAL_MS);
  /**
   * The encoded snapshots of everything (one per window count asked for), shared by every
   * unrestricted client that connects while nothing changes: after a gateway restart thousands
   * of dashboards reconnect at once, and each would otherwise walk and serialize the whole
   * collation.
   */
  #fullSnapshots: { version: number; byWindows: Map<number, Buffer[]> } = { version: -1, byWindows: new Map() };
  readonly #budget: MemoryBudget;

  constructor(options: HubOptions) {
    this.#options = options;
    this.#budget = new MemoryBudget(options.memoryBudgetBytes);
    this.#heartbeat = setInterval(() => this.#ping(), options.pingIntervalMs);
    this.#heartbeat.unref();
  }

  get size(): number {
    return this.#clients.size;
  }

  /** Bytes charged to the memory budget now: queued frames and each connection's write window. */
  get queuedBytes(): number {
    return this.#budget.usedBytes;
  }

  /** Takes over an upgraded connection: sends the snapshot, then live updates. */
  connect(socket: WebSocket, scope: AccountScope, options: ConnectOptions = {}): void {
    if (this.#clients.size >= this.#options.maxClients || !this.#budget.tryCharge(SOCKET_WRITE_WINDOW)) {
      this.#countDrop('too_many_clients');
      socket.close(CloseCode.tryAgainLater, 'too many clients');
      return;
    }
    const { maxBufferedBytes, messagesPerSecond, messageBurst } = this.#options;
    const queue = new SendQueue(socket, this.#budget, maxBufferedBytes, {
      buildSnapshot: () => this.#buildSnapshot(client),
      overdrawn: (reason) => {
        if (reason === 'over_client_limit') this.#drop(client, 'slow_consumer', CloseCode.policyViolation, 'send queue full: client too slow');
        else this.#drop(client, 'memory_budget', CloseCode.tryAgainLater, 'gateway memory budget reached: try again later');
      },
    });
    const client: Client = new Client(
      socket,
      queue,
      new TokenBucket(messagesPerSecond, messageBurst, Date.now()),
      scope,
      this.#nextId++,
      options.transport,
      options.snapshotWindows ?? this.#options.snapshotWindows,
    );
    const log = this.#options.logger;
    this.#clients.add(client);
    this.#index(client);
    this.#options.metrics.clientsConnected.inc();
    log.debug({ client: client.id }, 'websocket client connected');

    socket.on('message', (data, isBinary) => this.#onMessage(client, data, isBinary));
    socket.on('pong', () => {
      client.alive = true;
    });
    socket.on('error', (error: Error & { code?: string }) => {
      // A frame the protocol forbids (too big: 1009, malformed: 1002 or 1007): ws has already
      // answered it with a close frame; here it is only counted.
      if (isProtocolViolation(error)) {
        this.#remove(client);
        this.#countDrop(error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'oversized_message' : 'invalid_frame', client.id);
      } else {
        log.debug({ client: client.id, err: error }, 'websocket client error');
      }
    });
    socket.on('close', (code) => {
      this.#remove(client);
      log.debug({ client: client.id, code }, 'websocket client disconnected');
    });
    this.#sendSnapshot(client);
  }

  /** Writes changed counts to every client that may and wants to see them; returns the frames written. */
  publish(views: readonly WindowView[]): number {
    const sent = views.length === 1 ? this.#publishOne(views[0] as WindowView) : this.#publishMany(views);
    if (sent > 0) this.#options.metrics.messagesSent.inc({ kind: 'live' }, sent);
    return sent;
  }

  #publishOne(view: WindowView): number {
    const frame = encodeView(view);
    let sent = 0;
    // Plain loops rather than #watchers(): this is the hot path, once per client per change.
    const frames = [frame];
    for (const client of this.#everyAccount) {
      if (client.accepts(view) && this.#deliver(client, frames)) sent += 1;
    }
    const watchers = this.#byAccount.get(view.account_id);
    if (watchers) {
      for (const client of watchers) {
        if (client.accepts(view) && this.#deliver(client, frames)) sent += 1;
      }
    }
    return sent;
  }

  #publishMany(views: readonly WindowView[]): number {
    const outbox = new Map<Client, Buffer[]>();
    for (const view of views) {
      const frame = encodeView(view);
      for (const client of this.#watchers(view)) {
        if (!client.accepts(view)) continue;
        const frames = outbox.get(client);
        if (frames) frames.push(frame);
        else outbox.set(client, [frame]);
      }
    }
    let sent = 0;
    for (const [client, frames] of outbox) {
      client.transport?.cork();
      const delivered = this.#deliver(client, frames);
      client.transport?.uncork();
      if (delivered) sent += frames.length;
    }
    return sent;
  }

  /** The clients indexed for a view's account: those watching every account, then its own watchers. */
  *#watchers(view: WindowView): Iterable<Client> {
    yield* this.#everyAccount;
    const watchers = this.#byAccount.get(view.account_id);
    if (watchers) yield* watchers;
  }

  /** Closes every connection (1001 going away) and stops pinging. */
  close(): void {
    clearInterval(this.#heartbeat);
    for (const client of this.#clients) {
      this.#remove(client);
      client.socket.close(CloseCode.goingAway, 'server shutting down');
    }
  }

  #onMessage(client: Client, data: RawData, isBinary: boolean): void {
    // A client already dropped may still have messages in flight while its socket closes.
    if (!this.#clients.has(client)) return;
    if (!client.messages.take(Date.now())) {
      this.#drop(client, 'message_flood', CloseCode.policyViolation, 'too many messages');
      return;
    }
    if (isBinary) {
      this.#reply(client, 'binary_not_supported', 'send text frames: JSON or the text close');
      return;
    }
    const parsed = parseClientMessage(rawText(data));
    if (!parsed.ok) {
      this.#reply(client, parsed.reason, parsed.detail);
      return;
    }
    const message = parsed.value;
    if (message.type === 'close') {
      this.#remove(client);
      client.socket.close(CloseCode.normal, 'closed by client request');
      return;
    }
    const { filter } = message;
    if (filter.account !== undefined && !scopeAllows(client.scope, filter.account)) {
      this.#reply(client, 'forbidden', `this token may not see account ${filter.account}`);
      return;
    }
    this.#unindex(client);
    client.filter = filter;
    this.#index(client);
    // The client now watches something else: give it that view's current counts.
    this.#sendSnapshot(client);
  }

  /** Asks for the client's snapshot in place of any it has not received yet (built when its socket can take it). */
  #sendSnapshot(client: Client): void {
    if (client.socket.readyState === WebSocket.OPEN) client.queue.requestSnapshot();
  }

  /** The client's snapshot as of now: the shared one for an unrestricted client without a filter, else its own. */
  #buildSnapshot(client: Client): Snapshot {
    const windows = client.snapshotWindows;
    const own = !client.scope.all || client.filter.account !== undefined || client.filter.store !== undefined;
    const snapshot: Snapshot = own
      ? { shared: false, views: this.#takeSnapshot((view) => client.accepts(view), windows) }
      : { shared: true, frames: this.#sharedSnapshotFrames(windows) };
    const frames = snapshot.shared ? snapshot.frames.length : snapshot.views.length;
    if (frames > 0) this.#options.metrics.messagesSent.inc({ kind: 'snapshot' }, frames);
    return snapshot;
  }

  /** The encoded snapshot of everything, cached until a count changes and shared by every unrestricted client. */
  #sharedSnapshotFrames(windows: number): Buffer[] {
    const version = this.#options.snapshotVersion();
    if (this.#fullSnapshots.version !== version) this.#fullSnapshots = { version, byWindows: new Map() };
    let frames = this.#fullSnapshots.byWindows.get(windows);
    if (!frames) {
      frames = this.#takeSnapshot(() => true, windows).map(encodeView);
      // Clients choose `windows`: a few sizes are worth sharing (the default, the dashboard's),
      // but a client asking for every size in turn must not grow the cache without bound.
      if (this.#fullSnapshots.byWindows.size >= MAX_SHARED_SNAPSHOTS) this.#fullSnapshots.byWindows.clear();
      this.#fullSnapshots.byWindows.set(windows, frames);
    }
    return frames;
  }

  #takeSnapshot(include: (view: WindowView) => boolean, windows: number): WindowView[] {
    const { views, truncated } = this.#options.snapshot(include, windows, this.#options.snapshotMaxKeys);
    if (truncated) this.#options.metrics.snapshotsTruncated.inc({ surface: 'websocket' });
    return views;
  }

  /** Queues live frames for the client; false (and the client dropped) when it cannot take them. */
  #deliver(client: Client, frames: readonly Buffer[]): boolean {
    if (client.socket.readyState !== WebSocket.OPEN) return false;
    return client.queue.pushLive(frames);
  }

  #reply(client: Client, error: ClientMessageError, message: string): void {
    this.#options.metrics.clientErrors.inc({ error });
    this.#warnThrottled(`rejected:${error}`, { client: client.id, error, detail: message }, 'websocket client message refused');
    // Through the queue: the answer comes after the snapshot of a filter set before it.
    if (client.socket.readyState === WebSocket.OPEN) client.queue.pushAnswer(Buffer.from(errorMessage(error, message)));
  }

  #ping(): void {
    for (const client of this.#clients) {
      if (!client.alive) {
        this.#drop(client, 'ping_timeout');
        continue;
      }
      client.alive = false;
      client.socket.ping();
    }
  }

  /** Disconnects a client on the gateway's initiative: a close frame, or a plain cut when it is dead. */
  #drop(client: Client, reason: DropReason, code?: number, text?: string): void {
    this.#remove(client);
    this.#countDrop(reason, client.id);
    if (code === undefined) client.socket.terminate();
    else client.socket.close(code, text);
  }

  #countDrop(reason: DropReason, clientId?: number): void {
    this.#options.metrics.clientsDropped.inc({ reason });
    this.#warnThrottled(`dropped:${reason}`, { client: clientId, reason }, DROP_EXPLANATIONS[reason]);
  }

  /** A warning, unless one of this kind was written less than MISBEHAVIOUR_LOG_INTERVAL_MS ago. */
  #warnThrottled(kind: string, fields: Record<string, unknown>, message: string): void {
    const decision = this.#misbehaviourLog.admit(kind, Date.now());
    if (!decision.log) return;
    const notLogged = decision.suppressed > 0 ? { similarNotLogged: decision.suppressed } : {};
    this.#options.logger.warn({ ...fields, ...notLogged }, message);
  }

  #remove(client: Client): void {
    if (!this.#clients.delete(client)) return;
    client.queue.clear();
    this.#budget.release(SOCKET_WRITE_WINDOW);
    this.#unindex(client);
    this.#options.metrics.clientsConnected.dec();
  }

  #index(client: Client): void {
    const keys = client.indexKeys();
    if (keys === null) {
      this.#everyAccount.add(client);
      return;
    }
    for (const account of keys) {
      let watchers = this.#byAccount.get(account);
      if (!watchers) {
        watchers = new Set();
        this.#byAccount.set(account, watchers);
      }
      watchers.add(client);
    }
  }

  #unindex(client: Client): void {
    const keys = client.indexKeys();
    if (keys === null) {
      this.#everyAccount.delete(client);
      return;
    }
    for (const account of keys) {
      const watchers = this.#byAccount.get(account);
      watchers?.delete(client);
      if (watchers?.size === 0) this.#byAccount.delete(account);
    }
  }
}

/** ws's errors for frames the protocol forbids carry codes like WS_ERR_INVALID_UTF8. */
export function isProtocolViolation(error: Error & { code?: string }): boolean {
  return typeof error.code === 'string' && error.code.startsWith('WS_ERR_');
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}
