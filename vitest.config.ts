import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  test: {
    include: ['tests/unit/**/*.test.ts', 'tests/component/**/*.test.tsx'],
    environment: 'node',
    setupFiles: ['tests/setup.ts'],
    // Whole-app component tests take 1–3 s alone; on a loaded 2-core machine they have taken
    // just over the 5 s default. A real hang still fails.
    testTimeout: 15_000,
  },
});
