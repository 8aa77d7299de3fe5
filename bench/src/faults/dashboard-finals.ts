/**
 * A dashboard on the gateway's websocket that keeps the final frame of each window: its count,
 * how many final frames came for it (two would be a doubled final), and its delay after the
 * window's end + grace. It reconnects if the connection drops; a new connection first replays the
 * current counts, so frames of windows that closed before it opened are left out.
 */
import WebSocket from 'ws';
import { finalKey } from '@eric/shared/testing';
import type { Traffic } from './traffic.js';

export interface DashboardFinal {
  count: number;
  /** Final frames received for this window on one connection (more than 1 = doubled). */
  frames: number;
  /** Its window's end + grace, ms. */
  closeAt: number;
  /** From end + grace to the frame's arrival, ms. */
  delayMs: number;
}

interface Frame {
  type?: string;
  account_id: number;
  store_id: string | null;
  ts_from: number;
  ts_to: number;
  count: number;
  final?: boolean;
}

export class DashboardFinals {
  readonly finals = new Map<string, DashboardFinal>();
  #socket: WebSocket | undefined;
  #closing = false;
  #connectedAt = 0;

  constructor(
    private readonly port: () => number,
    private readonly graceSeconds: number,
  ) {}

  async connect(): Promise<void> {
    const socket = new WebSocket(`ws://127.0.0.1:${this.port()}/ws`, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    // The first connection's time: finals replayed after a reconnect still count (late).
    this.#connectedAt ||= Date.now();
    const seenHere = new Set<string>();
    socket.on('message', (data) => this.#receive(JSON.parse(String(data)) as Frame, seenHere));
    socket.on('close', () => {
      if (!this.#closing) void this.#reconnect();
    });
    this.#socket = socket;
  }

  async #reconnect(): Promise<void> {
    while (!this.#closing) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      try {
        await this.connect();
        return;
      } catch {
        // the gateway is not back yet
      }
    }
  }

  #receive(frame: Frame, seenHere: Set<string>): void {
    if (frame.type !== undefined || !frame.final) return;
    const at = Date.now();
    const closeAt = (frame.ts_to + this.graceSeconds) * 1000;
    const key = finalKey(frame.account_id, frame.store_id, frame.ts_from);
    const known = this.finals.get(key);
    if (known) {
      // The same final replayed to a new connection is no second final; one sent twice on the
      // same connection is.
      if (seenHere.has(key)) known.frames++;
      seenHere.add(key);
      return;
    }
    seenHere.add(key);
    if (closeAt < this.#connectedAt) return;
    this.finals.set(key, { count: frame.count, frames: 1, closeAt, delayMs: at - closeAt });
  }

  close(): void {
    this.#closing = true;
    this.#socket?.close();
  }
}

/** Waits until every window with acknowledged visits has a final at the dashboard, or until `timeoutMs` after the last one closed. */
export async function awaitFinals(traffic: Traffic, dashboard: DashboardFinals, timeoutMs: number): Promise<void> {
  const lastClose = Math.max(...[...traffic.windows.values()].map((window) => traffic.closeAt(window)));
  const deadline = Math.max(Date.now(), lastClose) + timeoutMs;
  while (Date.now() < deadline) {
    if (Date.now() > lastClose + 2000 && [...traffic.windows.keys()].every((key) => dashboard.finals.has(key))) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
