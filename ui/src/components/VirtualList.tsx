// A fixed-row-height virtual list: renders only what is visible, asks for more near the end.
import type { ComponentChildren, Ref } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { nearEnd, visibleRange } from '../lib/virtual';

export interface VirtualListProps<T> {
  items: T[];
  rowHeight: number;
  renderRow: (item: T, index: number) => ComponentChildren;
  onEndReached?: () => void;
  /** Called on scroll with the new scrollTop. */
  onScroll?: (top: number) => void;
  initialScrollTop?: number;
  containerRef?: Ref<HTMLDivElement>;
  footer?: ComponentChildren;
  testid?: string;
  label?: string;
}

export function VirtualList<T>(props: VirtualListProps<T>) {
  const { items, rowHeight, renderRow, onEndReached, onScroll, footer } = props;
  const own = useRef<HTMLDivElement>(null);
  const el = (props.containerRef as { current: HTMLDivElement | null } | undefined) ?? own;
  const [scrollTop, setScrollTop] = useState(props.initialScrollTop ?? 0);
  const [height, setHeight] = useState(600);

  useLayoutEffect(() => {
    const node = el.current;
    if (!node) return;
    if (props.initialScrollTop) node.scrollTop = props.initialScrollTop;
    setHeight(node.clientHeight || 600);
    const ro = typeof ResizeObserver !== 'undefined' ? new ResizeObserver(() => setHeight(node.clientHeight || 600)) : null;
    ro?.observe(node);
    return () => ro?.disconnect();
  }, []);

  const range = visibleRange({ scrollTop, viewportHeight: height, rowHeight, count: items.length });

  useEffect(() => {
    if (onEndReached && nearEnd(range.end, items.length)) onEndReached();
  }, [range.end, items.length]);

  const rows: ComponentChildren[] = [];
  for (let i = range.start; i < range.end; i++) rows.push(renderRow(items[i], i));

  return (
    <div
      class="vlist"
      ref={el}
      data-testid={props.testid}
      aria-label={props.label}
      onScroll={(e) => {
        const top = (e.currentTarget as HTMLDivElement).scrollTop;
        setScrollTop(top);
        onScroll?.(top);
      }}
    >
      <div class="vlist-inner" style={{ height: `${range.totalHeight}px` }}>
        <div class="vlist-rows" style={{ transform: `translateY(${range.offsetTop}px)` }}>
          {rows}
        </div>
      </div>
      {footer}
    </div>
  );
}
