/**
 * Event time in pure logic: how a repartition stage turns what it reads into watermarks
 * (SourceProgress), and how a count stage turns watermarks into its clock (EventTimeClock).
 */
import { describe, expect, it } from 'vitest';
import { EventTimeClock } from '../src/count/event-time.js';
import { SourceProgress, parseSourceCheckpoint } from '../src/repartition/source-progress.js';

const at = (seconds: number) => seconds * 1000;

describe('SourceProgress (repartition stage)', () => {
  it('follows the largest event time read, capped by each visit\'s arrival in Kafka', () => {
    const progress = new SourceProgress(true);
    progress.observe(0, 100, at(101), at(101));
    progress.observe(0, 90, at(102), at(102)); // older, out of order: no step back
    expect(progress.flowing(0)).toEqual({ source: 0, time: 100, idle: false });
    progress.observe(0, 1000, at(103), at(103)); // stamped far in the future: counts as its arrival
    expect(progress.flowing(0).time).toBe(103);
  });

  it('moves an idle partition on by the wall time since its newest visit was read, not to now', () => {
    const progress = new SourceProgress(true);
    // A replay of year-old visits: the newest was read at t = 5 000 s.
    progress.observe(0, 1_000, at(4_999), at(5_000));
    expect(progress.idle(0, at(5_003))).toEqual({ source: 0, time: 1_003, idle: true });
    // Kafka Streams-like: no advance while idle.
    const still = new SourceProgress(false);
    still.observe(0, 1_000, at(4_999), at(5_000));
    expect(still.idle(0, at(5_003)).time).toBe(1_000);
  });

  it('has no event time for an idle partition without visits, and takes over committed progress', () => {
    const progress = new SourceProgress(true);
    progress.takeOver(3, undefined);
    expect(progress.idle(3, at(10))).toEqual({ source: 3, time: null, idle: true });
    const checkpoint = parseSourceCheckpoint(JSON.stringify({ event_time: 500, read_at: at(600) }));
    progress.takeOver(4, checkpoint);
    expect(progress.idle(4, at(602)).time).toBe(502);
    expect(progress.checkpoint(4)).toEqual({ event_time: 500, read_at: at(600) });
    expect(parseSourceCheckpoint('not json')).toBeUndefined();
  });
});

describe('EventTimeClock (count stage)', () => {
  it('is the minimum over every input partition, and waits for one not heard from', () => {
    const clock = new EventTimeClock();
    clock.setSourceCount(3);
    clock.observe({ source: 0, time: 500, idle: false });
    clock.observe({ source: 1, time: 200, idle: false });
    expect(clock.value).toBe(Number.NEGATIVE_INFINITY); // partition 2 may hold visits of any age
    clock.observe({ source: 2, time: 300, idle: false });
    expect(clock.value).toBe(200);
    clock.observe({ source: 1, time: 400, idle: false });
    expect(clock.value).toBe(300);
  });

  it('leaves out an idle partition without event time, and never goes back', () => {
    const clock = new EventTimeClock();
    clock.setSourceCount(2);
    clock.observe({ source: 0, time: 500, idle: false });
    clock.observe({ source: 1, time: null, idle: true });
    expect(clock.value).toBe(500);
    clock.observe({ source: 1, time: 100, idle: false }); // old visits arrive on partition 1
    expect(clock.value).toBe(500);
    clock.observe({ source: 0, time: 450, idle: false }); // a second reader that is behind
    expect(clock.value).toBe(500);
  });

  it('takes a new input partition into the minimum', () => {
    const clock = new EventTimeClock();
    clock.setSourceCount(1);
    clock.observe({ source: 0, time: 100, idle: false });
    clock.setSourceCount(2);
    clock.observe({ source: 0, time: 200, idle: false });
    expect(clock.value).toBe(100); // held until partition 1 reports
    clock.observe({ source: 1, time: 150, idle: true });
    expect(clock.value).toBe(150);
    expect(clock.lastMove).toBe('wall-clock');
  });

  it('restores only forward', () => {
    const clock = new EventTimeClock();
    clock.restore(400);
    clock.setSourceCount(1);
    clock.observe({ source: 0, time: 300, idle: false });
    expect(clock.value).toBe(400);
  });
});
