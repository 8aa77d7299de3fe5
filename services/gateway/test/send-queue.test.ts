import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { WindowView } from '../src/protocol.js';
import { CHARGE_PER_QUEUED_VIEW, MemoryBudget, SOCKET_WRITE_WINDOW, SendQueue, type Snapshot } from '../src/send-queue.js';

/** A socket whose buffers fill as frames are sent and empty only when `flush()` says so. */
class FakeSocket {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  readonly #callbacks: Array<() => void> = [];

  send(frame: Buffer, _options: unknown, callback?: () => void): void {
    this.sent.push(frame.toString());
    this.bufferedAmount += frame.length;
    if (callback) this.#callbacks.push(callback);
  }

  /** The peer read everything: the buffers are empty and the write callbacks run. */
  flush(): void {
    this.bufferedAmount = 0;
    for (const callback of this.#callbacks.splice(0)) callback();
  }
}

const frame = (text: string, bytes = 1024) => Buffer.from(text.padEnd(bytes, ' '));
const frames = (prefix: string, n: number, bytes = 1024) => Array.from({ length: n }, (_, i) => frame(`${prefix}${i}`, bytes));
const views = (account: number, n: number): WindowView[] =>
  Array.from({ length: n }, (_, i) => ({ account_id: account, store_id: `s${i}`, ts_from: 0, ts_to: 60, count: i, final: false }));

/** A queue whose snapshot is whatever `next` holds when it is built; records the builds and the overdrafts. */
function queue(budgetBytes = 1 << 30, maxLiveBytes = 64 * 1024) {
  const socket = new FakeSocket();
  const budget = new MemoryBudget(budgetBytes);
  const state = { next: { shared: true, frames: [] } as Snapshot, builds: 0, overdrawn: [] as string[] };
  const q = new SendQueue(socket as unknown as WebSocket, budget, maxLiveBytes, {
    buildSnapshot: () => {
      state.builds += 1;
      return state.next;
    },
    overdrawn: (reason) => state.overdrawn.push(reason),
  });
  const request = (snapshot: Snapshot) => {
    state.next = snapshot;
    q.requestSnapshot();
  };
  return { socket, budget, queue: q, state, request };
}
const shared = (frameList: Buffer[]): Snapshot => ({ shared: true, frames: frameList });
const own = (viewList: WindowView[]): Snapshot => ({ shared: false, views: viewList });
const sentText = (socket: FakeSocket) => socket.sent.map((s) => s.trim());

describe('SendQueue', () => {
  it('hands the socket one write window at a time and resumes when it drains', () => {
    const { socket, queue: q, request } = queue();
    request(shared(frames('s', 100)));
    expect(socket.sent.length).toBe(SOCKET_WRITE_WINDOW / 1024);
    expect(q.snapshotBytes).toBe((100 - socket.sent.length) * 1024);
    while (q.snapshotBytes > 0) socket.flush();
    expect(sentText(socket)).toEqual(frames('s', 100).map((f) => f.toString().trim()));
  });

  it('builds one snapshot for a client that asks for snapshot after snapshot and never reads', () => {
    const { socket, budget, queue: q, state, request } = queue();
    request(own(views(0, 2_000))); // built at once: the socket was empty
    for (let asked = 1; asked < 400; asked += 1) request(own(views(asked, 2_000)));
    expect(state.builds).toBe(1); // the socket is full: the others wait, each replacing the last
    expect(q.snapshotWanted).toBe(true);
    expect(budget.usedBytes).toBe(0);
    socket.flush();
    expect(state.builds).toBe(2);
    expect(budget.usedBytes).toBeLessThanOrEqual(2_000 * CHARGE_PER_QUEUED_VIEW);
    while (q.snapshotBytes > 0) socket.flush();
    expect(socket.sent.filter((s) => JSON.parse(s).account_id === 399)).toHaveLength(2_000);
    expect(socket.sent.filter((s) => JSON.parse(s).account_id === 0).length).toBeLessThan(SOCKET_WRITE_WINDOW / 50);
    expect(budget.usedBytes).toBe(0);
  });

  it('sends counts after the snapshot, drops those a newer snapshot holds, and keeps every answer', () => {
    const { socket, queue: q, request } = queue();
    request(shared(frames('a', 20)));
    q.pushLive([frame('live-1')]);
    q.pushAnswer(frame('answer-1'));
    request(shared(frames('b', 20)));
    q.pushLive([frame('live-2')]); // the snapshot is not built yet: it will hold this count
    q.pushAnswer(frame('answer-2'));
    socket.flush();
    q.pushLive([frame('live-3')]);
    while (q.snapshotBytes + q.liveBytes > 0) socket.flush();
    const sent = sentText(socket);
    expect(sent).not.toContain('live-1');
    expect(sent).not.toContain('live-2');
    expect(sent.slice(-23)).toEqual([...frames('b', 20).map((f) => f.toString().trim()), 'answer-1', 'answer-2', 'live-3']);
  });

  it('says a client is too slow once its live frames exceed the limit', () => {
    const { queue: q, state } = queue(1 << 30, 16 * 1024);
    let accepted = q.pushLive(frames('x', 8));
    for (let i = 0; accepted && i < 100; i += 1) accepted = q.pushLive([frame(`y${i}`)]);
    expect(accepted).toBe(false);
    expect(state.overdrawn).toEqual(['over_client_limit']);
  });

  it("charges a client's own snapshot and live frames to the shared budget, refuses what overdraws it, and gives all back on clear", () => {
    const { budget, queue: q, state, request } = queue(100 * 1024);
    request(own(views(1, 1_000)));
    expect(state.overdrawn).toEqual(['over_budget']);
    expect(budget.usedBytes).toBe(0);
    request(shared(frames('shared', 200))); // held once by the hub
    expect(budget.usedBytes).toBe(0);
    q.pushLive([frame('live')]);
    expect(budget.usedBytes).toBe(1024);
    q.clear();
    expect(budget.usedBytes).toBe(0);
  });
});
