import { useEffect, useRef, useState } from 'preact/hooks';
import type { EditorView } from '@codemirror/view';

type Editor = typeof import('../lib/codemirror');

/**
 * The replay body editor (CodeMirror 6, loaded on first use). Reports every change of its text;
 * `resetSeq` puts `doc` back (one undoable change). A new `doc` starts a new editor.
 */
export function BodyEditor({
  doc,
  json,
  lineSeparator,
  label,
  resetSeq,
  onChange,
  testid,
}: {
  doc: string;
  json: boolean;
  lineSeparator: string | null;
  label: string;
  resetSeq: number;
  onChange: (text: string) => void;
  testid?: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const mod = useRef<Editor | null>(null);
  const changed = useRef(onChange);
  changed.current = onChange;
  const [state, setState] = useState<'loading' | 'ready' | 'failed'>('loading');

  useEffect(() => {
    let gone = false;
    setState('loading');
    import('../lib/codemirror')
      .then((m) => {
        if (gone || !host.current) return;
        mod.current = m;
        view.current = m.createEditor(host.current, { doc, json, lineSeparator, label, onChange: (t) => changed.current(t) });
        setState('ready');
      })
      .catch(() => !gone && setState('failed'));
    return () => {
      gone = true;
      view.current?.destroy();
      view.current = null;
    };
  }, [doc, json, lineSeparator]);

  useEffect(() => {
    if (resetSeq > 0 && view.current && mod.current) mod.current.replaceDoc(view.current, doc);
  }, [resetSeq]);

  return (
    <div class="body-editor" data-testid={testid} data-state={state}>
      <div ref={host} />
      {state === 'loading' && <p class="muted small">Loading the editor…</p>}
      {state === 'failed' && <p class="field-error">The editor could not be loaded: reload the page.</p>}
    </div>
  );
}
