// Picks the transport: Tauri IPC inside the desktop window, HTTP in a browser.
import { createHttpBackend, type UnauthorizedHook } from './http';
import type { Backend } from './types';

export * from './types';

export function isTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

export async function createBackend(onUnauthorized?: UnauthorizedHook): Promise<Backend> {
  if (isTauri()) {
    const { createTauriBackend } = await import('./tauri');
    return createTauriBackend();
  }
  return createHttpBackend('', onUnauthorized);
}
