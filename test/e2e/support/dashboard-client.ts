/** A websocket client of the gateway, as a dashboard is: it keeps every frame it receives. */
import type { Visit } from '@eric/shared';
import { finalKey } from '@eric/shared/testing';
import WebSocket from 'ws';
// The gateway's wire type: what a dashboard receives.
import type { WindowView } from '../../../services/gateway/src/protocol.js';

export class DashboardClient {
  readonly frames: WindowView[] = [];
  #socket: WebSocket | undefined;

  static async connect(port: number): Promise<DashboardClient> {
    const client = new DashboardClient();
    await client.#open(port);
    return client;
  }

  async #open(port: number): Promise<void> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as WindowView & { type?: string };
      if (frame.type === undefined) this.frames.push(frame);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    this.#socket = socket;
  }

  /** The final count of each window, from the frames with final: true. */
  finals(): Map<string, number> {
    const finals = new Map<string, number>();
    for (const frame of this.frames) if (frame.final) finals.set(finalKey(frame.account_id, frame.store_id, frame.ts_from), frame.count);
    return finals;
  }

  async waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) {
        const finals = [...this.finals()].slice(0, 5).map(([key, count]) => `${key}=${count}`).join(', ');
        throw new Error(`timed out waiting for ${what}; ${this.frames.length} frames received, finals: ${finals || 'none'}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  close(): void {
    this.#socket?.close();
  }
}

/** Distinct visit ids per (account, store, window): what every final must say. */
export function expectedCounts(visits: Visit[], windowSeconds: number): Map<string, number> {
  const ids = new Map<string, Set<string>>();
  for (const visit of visits) {
    const key = finalKey(visit.account_id, visit.store_id, Math.floor(visit.timestamp / windowSeconds) * windowSeconds);
    if (!ids.has(key)) ids.set(key, new Set());
    ids.get(key)!.add(visit.id);
  }
  return new Map([...ids].map(([key, set]) => [key, set.size]));
}
