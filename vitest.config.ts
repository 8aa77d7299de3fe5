import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Workspace packages export their TypeScript sources under the "source" condition, so tests run
// against src/ without a build step.
const conditions = ['source', ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['services/*/test/**/*.test.ts', 'test/packaging/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['services/*/test/**/*.int.test.ts', 'test/packaging/**/*.int.test.ts'],
          globalSetup: ['test/kafka-global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Two cores and one broker: files run one after another so timings stay sane.
          fileParallelism: false,
        },
      },
    ],
  },
});
