// Small line icons drawn in SVG (no icon font, no emoji font needed), in the current text colour.

const PATHS: Record<string, string> = {
  // exclamation in a circle
  alert: 'M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z M12 7.5v6 M12 16.5v.5',
  // a door with an x: nobody was there
  door: 'M6 21V4h9v17 M4 21h13 M12.5 12.5h.01 M17 7l4 4 M21 7l-4 4',
  // a clock
  clock: 'M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z M12 7v5l3.5 2',
  // pause bars in a circle: nothing moves
  pause: 'M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z M10 9v6 M14 9v6',
  // a shop front: waiting at a pickup point
  store: 'M4 10v10h16V10 M3 10l2-6h14l2 6z M10 20v-5h4v5',
  // a bell struck through
  bellOff: 'M6 17h12l-1.5-2V11a4.5 4.5 0 0 0-6.6-4 M7.5 10.5V15L6 17 M10 20a2 2 0 0 0 4 0 M4 4l16 16',
  truck: 'M3 7h11v9H3z M14 10h4l3 3v3h-7z M7 18.5a1.5 1.5 0 1 0 0-.01 M17 18.5a1.5 1.5 0 1 0 0-.01',
  check: 'M5 12.5l4.5 4.5L19 7.5',
  box: 'M4 8l8-4 8 4v8l-8 4-8-4z M4 8l8 4 8-4 M12 12v8',
  calendar: 'M4 6h16v14H4z M4 10h16 M8 3v4 M16 3v4',
};

export type IconName = keyof typeof PATHS;

export function Icon({ name, size = 16, label }: { name: IconName | string; size?: number; label?: string }) {
  return (
    <svg
      class="icon"
      width={size}
      height={size}
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      stroke-width="2"
      stroke-linecap="round"
      stroke-linejoin="round"
      role={label ? 'img' : undefined}
      aria-label={label}
      aria-hidden={label ? undefined : 'true'}
    >
      <path d={PATHS[name] ?? PATHS.alert} />
    </svg>
  );
}
