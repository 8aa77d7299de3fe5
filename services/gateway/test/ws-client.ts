/** A websocket test client that records every frame it receives (no broker needed). */
import WebSocket from 'ws';

export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// Frames are JSON of several shapes; tests inspect them field by field.
export type Frame = any;

let syncCounter = 0;

/** A websocket client that keeps every frame it receives. */
export class TestClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => this.frames.push(JSON.parse(data.toString())));
    this.closed = new Promise((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static connect(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    const socket = new WebSocket(url, options);
    const client = new TestClient(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('error', reject);
      socket.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    });
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Counts only (no error messages). */
  get counts(): Frame[] {
    return this.frames.filter((frame) => frame.type === undefined);
  }

  async waitFor(predicate: (frame: Frame) => boolean, what = 'a frame', timeoutMs = 20_000): Promise<Frame> {
    let found: Frame;
    await waitUntil(() => (found = this.frames.find(predicate)) !== undefined, what, timeoutMs);
    return found;
  }

  /**
   * Sends setFilter and returns once the gateway has applied it: the server handles a client's
   * messages in order, so the error answer to a deliberate bad message comes after the filter.
   */
  async setFilter(filter: Record<string, unknown>): Promise<void> {
    this.send({ type: 'setFilter', filter });
    await this.sync();
  }

  async sync(): Promise<void> {
    const marker = `sync-${++syncCounter}`;
    this.send({ type: marker });
    await this.waitFor((frame) => frame.type === 'error' && String(frame.message).includes(marker), 'the sync answer');
  }

  close(): void {
    this.socket.terminate();
  }
}
