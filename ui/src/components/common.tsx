import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { Verdict } from '../generated/Verdict';
import { statusKind, tagClass, tagLabel, verdictInfo } from '../lib/format';
import { showToast } from '../state/app';

export function TagBadge({ tag, title }: { tag: string | null | undefined; title?: string }) {
  if (!tag) return <span class="tag tag-none" data-testid="tag-badge">—</span>;
  return (
    <span class={tagClass(tag)} data-testid="tag-badge" data-tag={tag} title={title ?? tag}>
      {tagLabel(tag)}
    </span>
  );
}

export function VerdictBadge({ verdict, large }: { verdict: Verdict; large?: boolean }) {
  const v = verdictInfo(verdict);
  return (
    <span
      class={`verdict verdict-${v.kind}${large ? ' verdict-large' : ''}`}
      data-testid="verdict-badge"
      data-verdict={verdict}
      title={`${v.long} (${verdict})`}
    >
      <span aria-hidden="true">{v.kind === 'pass' ? '✓' : v.kind === 'fail' ? '✗' : '?'}</span> {v.short}
    </span>
  );
}

export function HttpStatus({ status }: { status: number }) {
  return (
    <span class={`http http-${statusKind(status)}`} data-testid="http-status" title={`We answered HTTP ${status}`}>
      {status}
    </span>
  );
}

export function DuplicateMark({ duplicate }: { duplicate: boolean }) {
  if (!duplicate) return null;
  return (
    <span class="dup" data-testid="duplicate" title="A repeat of an event already accepted (same event_id): answered like the original, changed nothing">
      dup
    </span>
  );
}

export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall through to the old way */
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

export function CopyButton({
  text,
  label = 'Copy',
  done = 'Copied',
  testid,
  class: cls,
  title,
}: {
  text: string | (() => string);
  label?: string;
  done?: string;
  testid?: string;
  class?: string;
  title?: string;
}) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      class={cls ?? 'btn btn-small'}
      data-testid={testid}
      title={title}
      onClick={async () => {
        const value = typeof text === 'function' ? text() : text;
        (window as unknown as { __lastCopied?: string }).__lastCopied = value;
        if (await copyText(value)) {
          setCopied(true);
          showToast(done);
          setTimeout(() => setCopied(false), 1500);
        } else {
          showToast('Could not reach the clipboard: select the text and copy it by hand.', 'error');
        }
      }}
    >
      {copied ? '✓ ' + done : label}
    </button>
  );
}

/** A value in monospace with a copy button. */
export function CopyField({ value, testid }: { value: string; testid?: string }) {
  return (
    <div class="copy-field">
      <code data-testid={testid}>{value}</code>
      <CopyButton text={value} />
    </div>
  );
}

export function ErrorBox({ message, onRetry, children }: { message: string; onRetry?: () => void; children?: ComponentChildren }) {
  return (
    <div class="error-box" role="alert" data-testid="error">
      <strong>Something went wrong.</strong> {message}
      {children}
      {onRetry && (
        <div>
          <button type="button" class="btn btn-small" onClick={onRetry}>
            Try again
          </button>
        </div>
      )}
    </div>
  );
}

export function Empty({ title, children, testid }: { title: string; children?: ComponentChildren; testid?: string }) {
  return (
    <div class="empty" data-testid={testid ?? 'empty'}>
      <h2>{title}</h2>
      {children}
    </div>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <div class="loading" data-testid="loading">
      <span class="spinner" aria-hidden="true" /> {what}…
    </div>
  );
}

/** HTTP header lines as a table, in the order given (`highlight` marks the lines it matches). */
export function HeaderTable({ headers, testid, highlight }: { headers: [string, string][]; testid?: string; highlight?: RegExp }) {
  return (
    <table class="headers" data-testid={testid}>
      <tbody>
        {headers.map(([n, v]) => (
          <tr class={highlight?.test(n) ? 'hl' : ''}>
            <th>{n}</th>
            <td class="mono">{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
