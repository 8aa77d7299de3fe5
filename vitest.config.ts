import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Workspace packages export their TypeScript sources under the "source" condition, so tests run
// against src/ without a build step.
const conditions = ['source', ...defaultServerConditions];

// The test workers (vitest's forks inherit this environment) hold several native Kafka clients at
// once, and each of their calls holds a libuv thread until librdkafka answers: give them the
// aggregator's 16 rather than Node's 4. (The aggregator sizes its own pool: its start.cts.)
process.env.UV_THREADPOOL_SIZE ??= '16';

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
          include: ['services/*/test/**/*.int.test.ts', 'test/packaging/**/*.int.test.ts', 'test/e2e/**/*.int.test.ts'],
          globalSetup: ['test/kafka-global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Two cores and one broker: files run one after another so timings stay sane.
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          // Long fault-injection loops that print figures (`make stress-broker-outage`): not in `make test`.
          name: 'stress',
          include: ['test/stress/**/*.stress.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          // A real Kubernetes control plane from scripts/k8s-local.sh (built once from the Go module
          // proxy) and the test broker: `make test-k8s`.
          name: 'k8s',
          include: ['test/k8s/**/*.int.test.ts'],
          globalSetup: ['test/kafka-global-setup.ts', 'test/k8s/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
