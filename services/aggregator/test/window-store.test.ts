import { describe, expect, it } from 'vitest';
import { WindowStore } from '../src/count/window-store.js';
import { closesAt, encodeWindowKey, windowStart } from '../src/count/windows.js';

const spec = { sizeSeconds: 60, graceSeconds: 10 };
const visit = (id: string, timestamp: number, store: string | null = 'default', account = 352) => ({ id, account_id: account, store_id: store, timestamp });

describe('tumbling windows', () => {
  it('puts a timestamp in the window [start, start + size), aligned to the epoch', () => {
    expect(windowStart(120, spec)).toBe(120);
    expect(windowStart(179.999, spec)).toBe(120);
    expect(windowStart(180, spec)).toBe(180);
    expect(windowStart(1_750_000_033.5, spec)).toBe(1_750_000_020);
  });

  it('closes a window at end + grace', () => {
    expect(closesAt(120, spec)).toBe(190);
  });

  it('keeps a null store apart from "null" and ""', () => {
    const keys = [null, 'null', ''].map((store_id) => encodeWindowKey({ start: 0, account_id: 1, store_id }));
    expect(new Set(keys).size).toBe(3);
  });
});

describe('WindowStore', () => {
  it('counts distinct visit ids per account, store and window', () => {
    const store = new WindowStore(spec);
    expect(store.add(visit('a', 121), 0).outcome).toBe('counted');
    expect(store.add(visit('b', 179), 0).outcome).toBe('counted');
    expect(store.add(visit('a', 150), 0).outcome).toBe('duplicate');
    expect(store.add(visit('a', 181), 0).outcome).toBe('counted'); // next window
    expect(store.add(visit('a', 125, null), 0).outcome).toBe('counted'); // other store
    expect(store.add(visit('a', 125, 'default', 7), 0).outcome).toBe('counted'); // other account
    expect(store.windowCount).toBe(4);
    expect(store.idCount).toBe(5);
  });

  it('drops visits for a closed window as late, and never reopens it', () => {
    const store = new WindowStore(spec);
    store.add(visit('a', 130), 0);
    const [closed] = store.closeDue(190);
    expect(closed).toMatchObject({ start: 120, account_id: 352, store_id: 'default' });
    expect(closed?.ids.size).toBe(1);
    expect(store.add(visit('b', 130), 190).outcome).toBe('late');
    expect(store.windowCount).toBe(0);
  });

  it('closes only due windows, oldest first, and frees their ids', () => {
    const store = new WindowStore(spec);
    store.add(visit('a', 250), 0);
    store.add(visit('b', 130), 0);
    store.add(visit('c', 70), 0);
    const closed = store.closeDue(190);
    expect(closed.map((w) => w.start)).toEqual([60, 120]);
    expect(store.idCount).toBe(1);
  });

  it('reports each changed window once per takeChanged', () => {
    const store = new WindowStore(spec);
    store.add(visit('a', 130), 0);
    store.add(visit('b', 130), 0);
    expect(store.takeChanged().map((w) => w.ids.size)).toEqual([2]);
    expect(store.takeChanged()).toEqual([]);
    store.add(visit('a', 130), 0); // a duplicate changes nothing
    expect(store.takeChanged()).toEqual([]);
    store.add(visit('c', 130), 0);
    expect(store.takeChanged()).toHaveLength(1);
  });
});

describe('WindowStore: the cap on distinct ids per window', () => {
  it('refuses a new id once its window holds the cap, and keeps duplicates duplicates', () => {
    const store = new WindowStore(spec, 2);
    expect(store.add(visit('a', 121), 0).outcome).toBe('counted');
    expect(store.add(visit('b', 122), 0).outcome).toBe('counted');
    expect(store.add(visit('c', 123), 0)).toMatchObject({ outcome: 'capped', capped: 1 });
    expect(store.add(visit('d', 124), 0)).toMatchObject({ outcome: 'capped', capped: 2 });
    expect(store.add(visit('a', 125), 0).outcome).toBe('duplicate');
    expect(store.add(visit('c', 126), 0).outcome).toBe('capped'); // refused, so still new
    expect(store.idCount).toBe(2);
  });

  it('caps each (account, store, window) on its own', () => {
    const store = new WindowStore(spec, 1);
    expect(store.add(visit('a', 121), 0).outcome).toBe('counted');
    expect(store.add(visit('b', 181), 0).outcome).toBe('counted'); // next window
    expect(store.add(visit('b', 121, 'other'), 0).outcome).toBe('counted');
    expect(store.add(visit('b', 121, 'default', 9), 0).outcome).toBe('counted');
    expect(store.add(visit('b', 121), 0).outcome).toBe('capped');
  });

  it('checks lateness first: a visit for a closed window is late, not capped', () => {
    const store = new WindowStore(spec, 1);
    store.add(visit('a', 121), 0);
    expect(store.add(visit('b', 121), 190).outcome).toBe('late');
  });

  it('restores more ids than the cap (insert takes no cap): what was counted stays counted', () => {
    const store = new WindowStore(spec, 2);
    const key = { account_id: 352, store_id: 'default', start: 120 };
    for (const id of ['a', 'b', 'c']) expect(store.insert(key, id)).toBe(true);
    expect(store.idCount).toBe(3);
    expect(store.add(visit('d', 130), 0).outcome).toBe('capped');
    expect(store.add(visit('b', 130), 0).outcome).toBe('duplicate');
  });
});
