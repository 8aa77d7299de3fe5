/**
 * What one websocket client has still to receive, and the memory that costs.
 *
 * A client's frames are handed to its socket only while the socket holds less than
 * `SOCKET_WRITE_WINDOW` bytes; the rest waits here, so the gateway always knows what each client
 * holds and can replace or drop it — bytes handed to a socket can never be taken back.
 *
 * - A snapshot is built when its turn comes, not when it is asked for. A client that asks again
 *   (a new filter) before the last one went out replaces it, and the live frames queued behind it:
 *   a snapshot built later already holds their counts. So a client that sends filter after filter
 *   and never reads costs one snapshot, built once — not one per message.
 * - Live frames queue behind the snapshot, in order: a client sees the snapshot, then every change
 *   after it. Answers to the client's messages (errors) queue with them but are never superseded,
 *   so a client reads each answer after the snapshot of any filter it set before.
 * - A snapshot of the client's own (its filter, its scope) is queued as the views themselves,
 *   which the collator holds anyway, and each is encoded as it goes out.
 * - Every byte held only for this client (live frames, its own snapshot) is charged to a
 *   `MemoryBudget` shared by all clients; snapshots shared by many clients are held once by the
 *   hub and cost nothing here.
 */
import { WebSocket } from 'ws';
import { encodeView, type WindowView } from './protocol.js';

/** Bytes a client may have in its socket's buffers at once; frames beyond wait in the queue. */
export const SOCKET_WRITE_WINDOW = 8 * 1024;

/**
 * What a queued, not yet encoded view is charged: about its encoded size (~100 bytes), which is
 * also what it keeps alive once the collator has replaced it (the object and its slot).
 */
export const CHARGE_PER_QUEUED_VIEW = 128;

/** The bytes queued for all clients together; each client charges what it holds to it. */
export class MemoryBudget {
  #used = 0;

  constructor(readonly limitBytes: number) {}

  get usedBytes(): number {
    return this.#used;
  }

  /** Whether `bytes` more fit; charges them if so. */
  tryCharge(bytes: number): boolean {
    if (this.#used + bytes > this.limitBytes) return false;
    this.#used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#used -= bytes;
  }
}

/** A snapshot as the hub builds it: frames encoded once for many clients, or this client's own views. */
export type Snapshot = { shared: true; frames: readonly Buffer[] } | { shared: false; views: readonly WindowView[] };

export interface SendQueueHooks {
  /** Builds the client's snapshot as of now. */
  buildSnapshot(): Snapshot;
  /** The client cannot be served within the budget or its limit: the hub drops it. */
  overdrawn(reason: 'over_client_limit' | 'over_budget'): void;
}

type QueuedSnapshot = (Snapshot & { next: number }) & { bytesLeft: number };

/** A queued frame: a count, or an answer to the client (which no snapshot supersedes). */
interface QueuedFrame {
  frame: Buffer;
  answer: boolean;
}

export class SendQueue {
  /** A snapshot was asked for and is built when the socket can take it. */
  #snapshotWanted = false;
  #snapshot: QueuedSnapshot | null = null;
  #live: QueuedFrame[] = [];
  #liveHead = 0;
  #liveBytes = 0;
  /** A frame was written with a callback and the queue waits for it to reach the kernel. */
  #awaitingFlush = false;

  constructor(
    readonly socket: WebSocket,
    readonly budget: MemoryBudget,
    /** Live bytes (queued here and in the socket) beyond which the client is too slow. */
    readonly maxLiveBytes: number,
    readonly hooks: SendQueueHooks,
  ) {}

  /** Bytes of snapshot still to send (charged or not). */
  get snapshotBytes(): number {
    return this.#snapshot?.bytesLeft ?? 0;
  }

  /** Whether a snapshot was asked for and not built yet. */
  get snapshotWanted(): boolean {
    return this.#snapshotWanted;
  }

  /** Live-frame bytes waiting here. */
  get liveBytes(): number {
    return this.#liveBytes;
  }

  /** Asks for a snapshot in place of whatever is queued; it is built at once if the socket can take it. */
  requestSnapshot(): void {
    this.#dropSnapshotAndCounts();
    this.#snapshotWanted = true;
    this.pump();
  }

  /** Queues an answer to the client's message behind what is queued; false if the client was overdrawn. */
  pushAnswer(frame: Buffer): boolean {
    return this.#enqueue([frame], true);
  }

  /** Queues live frames behind what is queued, then sends what fits; false if the client was overdrawn. */
  pushLive(frames: readonly Buffer[]): boolean {
    const { socket } = this;
    if (this.#isIdle() && frames.length === 1 && socket.bufferedAmount + (frames[0] as Buffer).length < SOCKET_WRITE_WINDOW) {
      // The common case, once per client per change: nothing queued, the socket keeps up.
      socket.send(frames[0] as Buffer, { binary: false });
      return true;
    }
    // The snapshot still to be built will hold these counts.
    if (this.#snapshotWanted) return true;
    return this.#enqueue(frames, false);
  }

  #enqueue(frames: readonly Buffer[], answer: boolean): boolean {
    if (this.#liveBytes + this.socket.bufferedAmount > this.maxLiveBytes) return this.#overdrawn('over_client_limit');
    let bytes = 0;
    for (const frame of frames) bytes += frame.length;
    if (!this.budget.tryCharge(bytes)) return this.#overdrawn('over_budget');
    for (const frame of frames) this.#live.push({ frame, answer });
    this.#liveBytes += bytes;
    this.pump();
    return true;
  }

  /** Hands queued frames to the socket until its buffers hold a write window. */
  pump(): void {
    const { socket } = this;
    while (!this.#awaitingFlush && socket.readyState === WebSocket.OPEN) {
      if (this.#snapshotWanted && !this.#startSnapshot()) return;
      const frame = this.#takeNext();
      if (frame === undefined) return;
      if (socket.bufferedAmount + frame.length < SOCKET_WRITE_WINDOW) {
        socket.send(frame, { binary: false });
        continue;
      }
      // The window is full with this frame: resume when it has reached the kernel.
      this.#awaitingFlush = true;
      socket.send(frame, { binary: false }, () => {
        this.#awaitingFlush = false;
        this.pump();
      });
    }
  }

  /** Forgets everything queued and gives its bytes back to the budget. */
  clear(): void {
    this.#dropSnapshotAndCounts();
    this.#snapshotWanted = false;
    this.budget.release(this.#liveBytes);
    this.#live = [];
    this.#liveHead = 0;
    this.#liveBytes = 0;
  }

  /** Drops the queued snapshot and the counts queued behind it (a newer snapshot holds them); answers stay. */
  #dropSnapshotAndCounts(): void {
    const snapshot = this.#snapshot;
    if (snapshot && !snapshot.shared) this.budget.release(snapshot.bytesLeft);
    this.#snapshot = null;
    const answers = this.#live.slice(this.#liveHead).filter((queued) => queued.answer);
    let answerBytes = 0;
    for (const { frame } of answers) answerBytes += frame.length;
    this.budget.release(this.#liveBytes - answerBytes);
    this.#live = answers;
    this.#liveHead = 0;
    this.#liveBytes = answerBytes;
  }

  /** Builds the wanted snapshot in front of the queue; false if the client was overdrawn. */
  #startSnapshot(): boolean {
    this.#snapshotWanted = false;
    this.#dropSnapshotAndCounts(); // counts queued since the request: the snapshot is newer
    const snapshot = this.hooks.buildSnapshot();
    if (snapshot.shared) {
      let bytes = 0;
      for (const frame of snapshot.frames) bytes += frame.length;
      if (snapshot.frames.length > 0) this.#snapshot = { ...snapshot, next: 0, bytesLeft: bytes };
      return true;
    }
    const bytes = snapshot.views.length * CHARGE_PER_QUEUED_VIEW;
    if (!this.budget.tryCharge(bytes)) return this.#overdrawn('over_budget');
    if (snapshot.views.length > 0) this.#snapshot = { ...snapshot, next: 0, bytesLeft: bytes };
    return true;
  }

  #overdrawn(reason: 'over_client_limit' | 'over_budget'): false {
    this.clear();
    this.hooks.overdrawn(reason);
    return false;
  }

  #isIdle(): boolean {
    return !this.#awaitingFlush && !this.#snapshotWanted && this.#snapshot === null && this.#liveHead === this.#live.length;
  }

  #takeNext(): Buffer | undefined {
    const snapshot = this.#snapshot;
    if (snapshot?.shared) {
      const frame = snapshot.frames[snapshot.next++] as Buffer;
      snapshot.bytesLeft -= frame.length;
      if (snapshot.next === snapshot.frames.length) this.#snapshot = null;
      return frame;
    }
    if (snapshot) {
      const frame = encodeView(snapshot.views[snapshot.next++] as WindowView);
      snapshot.bytesLeft -= CHARGE_PER_QUEUED_VIEW;
      this.budget.release(CHARGE_PER_QUEUED_VIEW);
      if (snapshot.next === snapshot.views.length) this.#snapshot = null;
      return frame;
    }
    if (this.#liveHead === this.#live.length) return undefined;
    const { frame } = this.#live[this.#liveHead++] as QueuedFrame;
    this.#liveBytes -= frame.length;
    this.budget.release(frame.length);
    if (this.#liveHead === this.#live.length) {
      this.#live = [];
      this.#liveHead = 0;
    }
    return frame;
  }
}
