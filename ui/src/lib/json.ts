// Pretty JSON that keeps every token exactly as sent (numbers, escapes, key order, duplicates):
// only whitespace is changed. JSON.parse + stringify would silently rewrite big numbers and escapes,
// which is the last thing a signature inspector should do.

export type JsonTokenType = 'key' | 'string' | 'number' | 'literal' | 'punct' | 'ws';
export interface JsonToken {
  t: JsonTokenType;
  s: string;
}

/** Tokens of valid JSON text, whitespace dropped; null if the text is not valid JSON. */
export function tokenizeJson(text: string): JsonToken[] | null {
  try {
    JSON.parse(text);
  } catch {
    return null;
  }
  const out: JsonToken[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === ' ' || c === '\n' || c === '\r' || c === '\t' || c === '\ufeff') {
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out.push({ t: 'string', s: text.slice(i, j + 1) });
      i = j + 1;
    } else if ('{}[],:'.includes(c)) {
      if (c === ':' && out.length && out[out.length - 1].t === 'string') out[out.length - 1].t = 'key';
      out.push({ t: 'punct', s: c });
      i++;
    } else {
      let j = i;
      while (j < n && !' \n\r\t,]}'.includes(text[j])) j++;
      const s = text.slice(i, j);
      out.push({ t: s === 'true' || s === 'false' || s === 'null' ? 'literal' : 'number', s });
      i = j;
    }
  }
  return out;
}

/** Re-indented tokens (with whitespace tokens), or null if not JSON. */
export function prettyJsonTokens(text: string, indent = 2): JsonToken[] | null {
  const toks = tokenizeJson(text);
  if (!toks) return null;
  const out: JsonToken[] = [];
  let depth = 0;
  const nl = () => out.push({ t: 'ws', s: '\n' + ' '.repeat(depth * indent) });
  for (let k = 0; k < toks.length; k++) {
    const tok = toks[k];
    if (tok.t === 'punct') {
      const c = tok.s;
      if (c === '{' || c === '[') {
        const next = toks[k + 1];
        if (next && next.t === 'punct' && (next.s === '}' || next.s === ']')) {
          out.push({ t: 'punct', s: c + next.s });
          k++;
          continue;
        }
        out.push(tok);
        depth++;
        nl();
      } else if (c === '}' || c === ']') {
        depth--;
        nl();
        out.push(tok);
      } else if (c === ',') {
        out.push(tok);
        nl();
      } else {
        out.push({ t: 'punct', s: ': ' });
      }
    } else {
      out.push(tok);
    }
  }
  return out;
}

export function prettyJson(text: string, indent = 2): string | null {
  const toks = prettyJsonTokens(text, indent);
  return toks ? toks.map((t) => t.s).join('') : null;
}

/** Why `text` is not valid JSON (the parser's words), or null when it is. */
export function jsonError(text: string): string | null {
  try {
    JSON.parse(text);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
