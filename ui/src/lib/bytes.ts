// Body bytes: base64 in, UTF-8 (strict) or hex out.

export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    bin += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(bin);
}

/** The bytes as text if they are valid UTF-8, else null. */
export function decodeUtf8Strict(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** True when text has control characters other than tab, CR, LF (shown better as hex). */
export function hasControlChars(text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Classic hex dump, 16 bytes a line:
 * `00000000  7b 22 65 76 65 6e 74 22  3a 22 74 72 61 63 6b 69  |{"event":"tracki|`
 */
export function hexDump(bytes: Uint8Array, maxLines = Infinity): { lines: string[]; truncated: boolean } {
  const lines: string[] = [];
  const total = Math.ceil(bytes.length / 16);
  const n = Math.min(total, maxLines);
  for (let line = 0; line < n; line++) {
    const off = line * 16;
    let hex = '';
    let ascii = '';
    for (let i = 0; i < 16; i++) {
      if (i === 8) hex += ' ';
      if (off + i < bytes.length) {
        const b = bytes[off + i];
        hex += HEX[b] + ' ';
        ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
      } else {
        hex += '   ';
      }
    }
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hex} |${ascii}|`);
  }
  return { lines, truncated: n < total };
}
