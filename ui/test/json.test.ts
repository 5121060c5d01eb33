import { describe, expect, it } from 'vitest';
import { prettyJson, prettyJsonTokens, tokenizeJson } from '../src/lib/json';

describe('pretty JSON that changes only whitespace', () => {
  it('indents objects and arrays', () => {
    expect(prettyJson('{"a":1,"b":[true,null,"x"],"c":{}}')).toBe(
      '{\n  "a": 1,\n  "b": [\n    true,\n    null,\n    "x"\n  ],\n  "c": {}\n}',
    );
  });
  it('keeps numbers, escapes and duplicate keys exactly as sent', () => {
    const raw = '{"n":12345678901234567890,"f":1.50,"e":1E+3,"s":"\\u00e9\\/\\"","s":"dup"}';
    const out = prettyJson(raw)!;
    expect(out).toContain('12345678901234567890');
    expect(out).toContain('1.50');
    expect(out).toContain('1E+3');
    expect(out).toContain('"\\u00e9\\/\\""');
    expect(out.match(/"s"/g)).toHaveLength(2);
    expect(out.replace(/\s/g, '')).toBe(raw.replace(/\s/g, ''));
  });
  it('keeps strings that contain brackets, commas and colons', () => {
    const raw = '{"k":"a,b:{c}[d]"}';
    expect(prettyJson(raw)).toBe('{\n  "k": "a,b:{c}[d]"\n}');
  });
  it('marks keys apart from string values', () => {
    const toks = tokenizeJson('{"a":"b"}')!;
    expect(toks.map((t) => t.t)).toEqual(['punct', 'key', 'punct', 'string', 'punct']);
  });
  it('handles scalars and whitespace-heavy input', () => {
    expect(prettyJson(' 42 ')).toBe('42');
    expect(prettyJson('[ ]')).toBe('[]');
    expect(prettyJson('\n{ "a" : [ 1 , 2 ] }\n')).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}');
  });
  it('refuses what is not JSON', () => {
    expect(prettyJson('{"a":1')).toBeNull();
    expect(prettyJson('hello')).toBeNull();
    expect(prettyJsonTokens('')).toBeNull();
  });
  it('pretty-prints the AfterShip sample', async () => {
    const { readFileSync } = await import('node:fs');
    const raw = readFileSync(new URL('../../tests/fixtures/aftership-v4-tracking-update.json', import.meta.url), 'utf8');
    const compact = JSON.stringify(JSON.parse(raw));
    const pretty = prettyJson(compact)!;
    expect(JSON.parse(pretty)).toEqual(JSON.parse(raw));
    expect(pretty.split('\n').length).toBeGreaterThan(50);
  });
});
