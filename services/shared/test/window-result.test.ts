import { describe, expect, it } from 'vitest';
import { parseWindowResult, type WindowResult } from '../src/schemas/window-result.js';

const result: WindowResult = {
  account_id: 352,
  store_id: null,
  window: [1_750_000_020, 1_750_000_080],
  count: 17,
  final: true,
  partition: 2,
  emitted_at: 1_750_000_090.5,
};

describe('parseWindowResult', () => {
  it('reads back what the aggregator writes', () => {
    expect(parseWindowResult(JSON.stringify(result))).toEqual({ ok: true, value: result });
  });

  it('accepts a result of the minimal contract, without partition and emitted_at', () => {
    const { partition: _p, emitted_at: _e, ...minimal } = result;
    expect(parseWindowResult(JSON.stringify(minimal))).toEqual({ ok: true, value: { ...minimal, partition: 0, emitted_at: 0 } });
  });

  it.each([
    ['not JSON', 'nope', 'invalid_json'],
    ['a window that is not a pair', JSON.stringify({ ...result, window: [1] }), 'invalid_field'],
    ['a negative count', JSON.stringify({ ...result, count: -1 }), 'invalid_field'],
    ['final as a string', JSON.stringify({ ...result, final: 'yes' }), 'invalid_field'],
  ])('rejects %s', (_case, input, reason) => {
    expect(parseWindowResult(input)).toMatchObject({ ok: false, reason });
  });
});
