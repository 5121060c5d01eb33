import { describe, expect, it } from 'vitest';
import { moveSelection, nearEnd, scrollToReveal, visibleRange } from '../src/lib/virtual';

describe('virtual list range', () => {
  it('renders only the visible rows plus overscan', () => {
    const r = visibleRange({ scrollTop: 3600, viewportHeight: 360, rowHeight: 36, count: 1_000_000, overscan: 5 });
    expect(r.start).toBe(95);
    expect(r.end).toBe(115);
    expect(r.offsetTop).toBe(95 * 36);
    expect(r.totalHeight).toBe(36_000_000);
  });
  it('clamps at the top and the bottom', () => {
    expect(visibleRange({ scrollTop: 0, viewportHeight: 360, rowHeight: 36, count: 100, overscan: 5 })).toMatchObject({ start: 0, end: 15 });
    const r = visibleRange({ scrollTop: 99999, viewportHeight: 360, rowHeight: 36, count: 100, overscan: 5 });
    expect(r.end).toBe(100);
    expect(r.start).toBe(85);
  });
  it('handles empty and short lists', () => {
    expect(visibleRange({ scrollTop: 0, viewportHeight: 500, rowHeight: 36, count: 0 })).toEqual({ start: 0, end: 0, offsetTop: 0, totalHeight: 0 });
    expect(visibleRange({ scrollTop: 0, viewportHeight: 500, rowHeight: 36, count: 3 })).toMatchObject({ start: 0, end: 3 });
  });
  it('scrolls just enough to reveal a row', () => {
    expect(scrollToReveal(5, 0, 360, 36)).toBeNull();
    expect(scrollToReveal(10, 0, 360, 36)).toBe(36);
    expect(scrollToReveal(2, 360, 360, 36)).toBe(72);
  });
  it('knows when to fetch more', () => {
    expect(nearEnd(85, 100)).toBe(true);
    expect(nearEnd(50, 100)).toBe(false);
    expect(nearEnd(0, 0)).toBe(false);
  });
  it('moves the selection within bounds', () => {
    expect(moveSelection(-1, 1, 10)).toBe(0);
    expect(moveSelection(-1, -1, 10)).toBe(0);
    expect(moveSelection(0, -1, 10)).toBe(0);
    expect(moveSelection(9, 1, 10)).toBe(9);
    expect(moveSelection(3, 10, 10)).toBe(9);
    expect(moveSelection(0, 1, 0)).toBe(-1);
  });
});
