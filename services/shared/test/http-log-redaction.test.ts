import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createHttpServer, redactUrl } from '../src/http/base.js';
import { createLogger } from '../src/logger.js';

/** A service's logger at trace level, every line it writes kept in `lines`. */
function capturedLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger('test', 'trace', sink), lines };
}

describe('HTTP logs never carry a token of a URL', () => {
  it('redacts every parameter named *token, and nothing else', () => {
    expect(redactUrl('/ws?windows=5&token=abc&access_token=def#x')).toBe('/ws?windows=5&token=[redacted]&access_token=[redacted]#x');
    expect(redactUrl('/api?Token=abc')).toBe('/api?Token=[redacted]');
    expect(redactUrl('/api/tokens?account=1')).toBe('/api/tokens?account=1');
  });

  it('a 5xx, a 404 and a good request with ?token= leave no token in any line', async () => {
    const { logger, lines } = capturedLogger();
    const app = createHttpServer(logger);
    app.get('/boom', async () => {
      throw new Error('handler failed');
    });
    app.get('/fine', async () => ({ ok: true }));

    expect((await app.inject('/boom?windows=3&token=secret-one')).statusCode).toBe(500);
    expect((await app.inject('/nowhere?token=secret-two')).statusCode).toBe(404);
    expect((await app.inject('/fine?token=secret-three')).statusCode).toBe(200);
    await app.close();

    const log = lines.join('');
    expect(log).not.toMatch(/secret-/);
    // The lines are still there, with the rest of the URL: redaction, not silence.
    const failed = lines.map((line) => JSON.parse(line)).find((line) => line.level === 50);
    expect(failed).toMatchObject({ req: { method: 'GET', url: '/boom?windows=3&token=[redacted]' }, err: { message: 'handler failed' } });
    expect(log).toContain('Route GET:/nowhere?token=[redacted] not found');
  });
});
