// The body editor: CodeMirror 6 with JSON highlighting, folding, search, undo. Loaded on demand
// (a chunk of its own), so the rest of the UI does not wait for it. Colours come from the app's
// CSS variables, so it follows the light and dark themes.
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { json } from '@codemirror/lang-json';
import { bracketMatching, foldGutter, foldKeymap, HighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { highlightSelectionMatches, search, searchKeymap } from '@codemirror/search';
import { EditorState, type Extension } from '@codemirror/state';
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
} from '@codemirror/view';
import { tags } from '@lezer/highlight';

const highlight = HighlightStyle.define([
  { tag: tags.propertyName, color: 'var(--j-key)' },
  { tag: tags.string, color: 'var(--j-string)' },
  { tag: tags.number, color: 'var(--j-number)' },
  { tag: [tags.bool, tags.null], color: 'var(--j-literal)' },
  { tag: tags.invalid, color: 'var(--bad)', textDecoration: 'underline wavy' },
]);

const theme = EditorView.theme({
  '&': {
    color: 'var(--text)',
    backgroundColor: 'var(--code-bg)',
    border: '1px solid var(--border)',
    borderRadius: '6px',
    fontSize: '12.5px',
    maxHeight: '420px',
  },
  '&.cm-focused': { outline: '2px solid color-mix(in srgb, var(--accent) 55%, transparent)', outlineOffset: '1px' },
  '.cm-scroller': { fontFamily: 'var(--mono)', lineHeight: '1.45', overflow: 'auto' },
  '.cm-content': { caretColor: 'var(--text)', padding: '6px 0' },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--text)' },
  '.cm-gutters': { backgroundColor: 'var(--panel-2)', color: 'var(--muted)', border: 'none', borderRight: '1px solid var(--border)', borderRadius: '6px 0 0 6px' },
  '.cm-activeLine': { backgroundColor: 'color-mix(in srgb, var(--accent) 7%, transparent)' },
  '.cm-activeLineGutter': { backgroundColor: 'color-mix(in srgb, var(--accent) 14%, transparent)', color: 'var(--text)' },
  '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, ::selection': {
    backgroundColor: 'color-mix(in srgb, var(--accent) 30%, transparent)',
  },
  '.cm-matchingBracket': { backgroundColor: 'color-mix(in srgb, var(--accent) 22%, transparent)', outline: 'none' },
  '.cm-selectionMatch': { backgroundColor: 'color-mix(in srgb, var(--warn) 22%, transparent)' },
  '.cm-searchMatch': { backgroundColor: 'color-mix(in srgb, var(--warn) 30%, transparent)', outline: '1px solid var(--warn)' },
  '.cm-searchMatch.cm-searchMatch-selected': { backgroundColor: 'color-mix(in srgb, var(--warn) 55%, transparent)' },
  '.cm-foldPlaceholder': { backgroundColor: 'var(--panel-2)', border: '1px solid var(--border)', color: 'var(--muted)', padding: '0 4px' },
  '.cm-panels': { backgroundColor: 'var(--panel-2)', color: 'var(--text)' },
  '.cm-panels.cm-panels-bottom': { borderTop: '1px solid var(--border)' },
  '.cm-panel.cm-search input, .cm-panel.cm-search button': { fontSize: '12px' },
  '.cm-specialChar': { color: 'var(--bad)' },
});

export interface EditorOptions {
  doc: string;
  json: boolean;
  /** Keep this line separator (e.g. '\r\n'); default: read any, give back '\n'. */
  lineSeparator: string | null;
  label: string;
  onChange: (text: string) => void;
}

export function editorExtensions(o: Pick<EditorOptions, 'json' | 'lineSeparator'>): Extension[] {
  const ext: Extension[] = [EditorState.tabSize.of(2)];
  if (o.lineSeparator) ext.push(EditorState.lineSeparator.of(o.lineSeparator));
  if (o.json) ext.push(json());
  return ext;
}

export function createEditor(parent: HTMLElement, o: EditorOptions): EditorView {
  return new EditorView({
    parent,
    state: EditorState.create({
      doc: o.doc,
      extensions: [
        ...editorExtensions(o),
        lineNumbers(),
        foldGutter({ markerDOM: (open) => Object.assign(document.createElement('span'), { className: 'cm-fold-marker', textContent: open ? '▾' : '▸' }) }),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        search({ top: false }),
        syntaxHighlighting(highlight),
        EditorView.lineWrapping,
        theme,
        EditorView.contentAttributes.of({ 'aria-label': o.label, spellcheck: 'false', autocorrect: 'off', autocapitalize: 'off' }),
        keymap.of([...defaultKeymap, ...historyKeymap, ...searchKeymap, ...foldKeymap, indentWithTab]),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) o.onChange(u.state.sliceDoc());
        }),
      ],
    }),
  });
}

/** Puts `doc` back as the whole text (one undoable change). */
export function replaceDoc(view: EditorView, doc: string) {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: doc } });
}
