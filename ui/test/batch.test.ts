import { describe, expect, it, vi } from 'vitest';
import { createBatcher, throttle } from '../src/lib/batch';
import { appendPage, mergeLive } from '../src/lib/feedlist';

describe('batching live events per frame', () => {
  it('delivers a burst in one call', () => {
    const frames: (() => void)[] = [];
    const got: number[][] = [];
    const b = createBatcher<number>((items) => got.push(items), (cb) => frames.push(cb));
    for (let i = 0; i < 5000; i++) b.push(i);
    expect(frames).toHaveLength(1);
    expect(got).toHaveLength(0);
    expect(b.pending).toBe(5000);
    frames.shift()!();
    expect(got).toHaveLength(1);
    expect(got[0]).toHaveLength(5000);
    b.push(1);
    expect(frames).toHaveLength(1);
  });
  it('flushes and clears on demand', () => {
    const frames: (() => void)[] = [];
    const got: number[][] = [];
    const b = createBatcher<number>((items) => got.push(items), (cb) => frames.push(cb));
    b.push(1);
    b.flush();
    expect(got).toEqual([[1]]);
    frames.shift()!(); // the scheduled run finds nothing
    expect(got).toEqual([[1]]);
    b.push(2);
    b.clear();
    frames.shift()!();
    expect(got).toEqual([[1]]);
  });
  it('throttles with a trailing call', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const t = throttle(fn, 1000);
    t();
    t();
    t();
    expect(fn).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1000);
    expect(fn).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(5000);
    expect(fn).toHaveBeenCalledTimes(2);
    vi.useRealTimers();
  });
});

describe('merging live rows into the newest-first list', () => {
  const ids = (xs: { id: number }[]) => xs.map((x) => x.id);
  it('puts new rows on top, newest first', () => {
    const { items, addedAbove } = mergeLive([{ id: 5 }, { id: 4 }], [{ id: 6 }, { id: 8 }, { id: 7 }]);
    expect(ids(items)).toEqual([8, 7, 6, 5, 4]);
    expect(addedAbove).toBe(3);
  });
  it('replaces rows it already has and ignores duplicates in a batch', () => {
    const { items, addedAbove } = mergeLive([{ id: 5, v: 'a' }, { id: 4, v: 'a' }], [{ id: 5, v: 'b' }, { id: 5, v: 'c' }]);
    expect(items).toEqual([{ id: 5, v: 'c' }, { id: 4, v: 'a' }]);
    expect(addedAbove).toBe(0);
  });
  it('slots late rows into place', () => {
    const { items, addedAbove } = mergeLive([{ id: 9 }, { id: 3 }], [{ id: 5 }, { id: 10 }]);
    expect(ids(items)).toEqual([10, 9, 5, 3]);
    expect(addedAbove).toBe(1);
  });
  it('returns the same array when nothing changes', () => {
    const list = [{ id: 1 }];
    expect(mergeLive(list, []).items).toBe(list);
  });
  it('appends older pages without repeating rows', () => {
    expect(ids(appendPage([{ id: 9 }, { id: 8 }], [{ id: 8 }, { id: 7 }, { id: 6 }]))).toEqual([9, 8, 7, 6]);
  });
  it('merges a 10k burst quickly', () => {
    const list = Array.from({ length: 50_000 }, (_, i) => ({ id: 50_000 - i }));
    const burst = Array.from({ length: 10_000 }, (_, i) => ({ id: 50_001 + i }));
    const t = performance.now();
    const { items, addedAbove } = mergeLive(list, burst);
    expect(performance.now() - t).toBeLessThan(500);
    expect(items).toHaveLength(60_000);
    expect(items[0].id).toBe(60_000);
    expect(addedAbove).toBe(10_000);
  });
});
