/** A websocket test client that records every frame it receives (no broker needed). */
import { randomBytes } from 'node:crypto';
import { connect as connectTcp } from 'node:net';
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

  static connect(url: string, options: WebSocket.ClientOptions = {}, protocols: string[] = []): Promise<TestClient> {
    const socket = new WebSocket(url, protocols, options);
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

/**
 * Opens a websocket on a raw TCP connection, sends one text frame of `payloadBytes` without
 * reading anything meanwhile (as a busy browser does), then reads what the server sent and
 * returns the code of its close frame; null when the connection was cut before one could be read
 * (a browser reports that as 1006). A server that resets the connection while data it has not
 * read is still arriving destroys its own close frame in the client's receive queue.
 */
export async function closeCodeAfterUnreadSend(port: number, payloadBytes: number): Promise<number | null> {
  const socket = connectTcp(port, '127.0.0.1');
  let received = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
  const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await waitUntil(() => received.includes('\r\n\r\n'), 'the upgrade answer');
  socket.pause();
  const header = Buffer.alloc(14);
  header[0] = 0x81; // final text frame
  header[1] = 0x80 | 127; // masked, 64-bit length
  header.writeBigUInt64BE(BigInt(payloadBytes), 2); // then a zero mask: the payload goes as is
  socket.write(Buffer.concat([header, Buffer.alloc(payloadBytes, 0x78)]));
  await new Promise((resolve) => setTimeout(resolve, 500));
  socket.resume();
  await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 2_000))]);
  socket.destroy();
  // Frames from the server follow the HTTP answer; a close frame is 0x88, its length, its code.
  let offset = received.indexOf('\r\n\r\n') + 4;
  while (offset + 2 <= received.length) {
    const opcode = (received[offset] as number) & 0x0f;
    const length = (received[offset + 1] as number) & 0x7f; // the server's frames here are small
    if (opcode === 0x8 && length >= 2) return received.readUInt16BE(offset + 2);
    offset += 2 + length;
  }
  return null;
}
