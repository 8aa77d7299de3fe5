import { describe, expect, it } from 'vitest';
import { LogThrottle } from '../src/log-throttle.js';

describe('LogThrottle', () => {
  it('lets one line per kind through per interval and reports what it held back', () => {
    const throttle = new LogThrottle(10_000);
    expect(throttle.admit('oversized_message', 0)).toEqual({ log: true, suppressed: 0 });
    expect(throttle.admit('oversized_message', 1)).toEqual({ log: false });
    expect(throttle.admit('oversized_message', 9_999)).toEqual({ log: false });
    expect(throttle.admit('slow_consumer', 5)).toEqual({ log: true, suppressed: 0 }); // another kind is not held back
    expect(throttle.admit('oversized_message', 10_000)).toEqual({ log: true, suppressed: 2 });
    expect(throttle.admit('oversized_message', 20_000)).toEqual({ log: true, suppressed: 0 });
  });
});
