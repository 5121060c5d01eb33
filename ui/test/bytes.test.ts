import { describe, expect, it } from 'vitest';
import { base64ToBytes, bytesToBase64, decodeUtf8Strict, hasControlChars, hexDump } from '../src/lib/bytes';

describe('body bytes', () => {
  it('round-trips base64', () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255, 0x7b]);
    expect(base64ToBytes(bytesToBase64(bytes))).toEqual(bytes);
    expect(new TextDecoder().decode(base64ToBytes('eyJhIjoxfQ=='))).toBe('{"a":1}');
  });
  it('handles big bodies', () => {
    const big = new Uint8Array(200_000).map((_, i) => i % 256);
    expect(Buffer.from(base64ToBytes(bytesToBase64(big))).equals(Buffer.from(big))).toBe(true);
  });
  it('decodes strict UTF-8 and refuses the rest', () => {
    expect(decodeUtf8Strict(new TextEncoder().encode('héllo ✓'))).toBe('héllo ✓');
    expect(decodeUtf8Strict(new Uint8Array([0x7b, 0xff, 0xfe]))).toBeNull();
    expect(decodeUtf8Strict(new Uint8Array([0x1f, 0x8b, 0x08]))).toBeNull(); // gzip magic
  });
  it('keeps a BOM visible', () => {
    expect(decodeUtf8Strict(new Uint8Array([0xef, 0xbb, 0xbf, 0x31]))).toBe('\ufeff1');
  });
  it('spots control characters', () => {
    expect(hasControlChars('{"a":\n\t1}\r\n')).toBe(false);
    expect(hasControlChars('a\u0000b')).toBe(true);
    expect(hasControlChars('a\u001bb')).toBe(true);
  });
});

describe('hexDump', () => {
  it('prints offset, hex in two groups and ASCII', () => {
    const bytes = new TextEncoder().encode('{"event":"tracking_update"}');
    const { lines, truncated } = hexDump(bytes);
    expect(truncated).toBe(false);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('00000000  7b 22 65 76 65 6e 74 22  3a 22 74 72 61 63 6b 69  |{"event":"tracki|');
    expect(lines[1]).toBe('00000010  6e 67 5f 75 70 64 61 74  65 22 7d                 |ng_update"}|');
  });
  it('shows non-printable bytes as dots', () => {
    const { lines } = hexDump(new Uint8Array([0x00, 0x41, 0x7f, 0x80, 0xff]));
    expect(lines[0].startsWith('00000000  00 41 7f 80 ff ')).toBe(true);
    expect(lines[0].endsWith('|.A...|')).toBe(true);
  });
  it('aligns every line to the same width', () => {
    const { lines } = hexDump(new Uint8Array(40));
    expect(lines).toHaveLength(3);
    const bar = lines[0].indexOf('|');
    expect(lines[2].indexOf('|')).toBe(bar);
  });
  it('stops at maxLines and says so', () => {
    const { lines, truncated } = hexDump(new Uint8Array(1000), 10);
    expect(lines).toHaveLength(10);
    expect(truncated).toBe(true);
    expect(lines[9].startsWith('00000090')).toBe(true);
  });
  it('prints nothing for an empty body', () => {
    expect(hexDump(new Uint8Array(0))).toEqual({ lines: [], truncated: false });
  });
});
