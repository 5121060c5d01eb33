import { defineConfig } from 'vitest/config';

declare const process: { env: Record<string, string | undefined> };

// Preact without a plugin: the automatic JSX runtime from `preact/jsx-runtime`.
// The same dist is embedded in the Tauri window and served by `shipwatch serve` at `/`,
// so asset paths are relative and nothing is loaded from the network.
export default defineConfig({
  base: './',
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
  },
  server: {
    port: 5173,
    strictPort: true,
    // `npm run dev` against a running `shipwatch serve` (default inspector port 8788):
    // open http://localhost:5173/api/status?token=... once so the cookie is set through the proxy.
    proxy: {
      '/api': { target: process.env.SHIPWATCH_INSPECTOR ?? 'http://127.0.0.1:8788', changeOrigin: false },
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
