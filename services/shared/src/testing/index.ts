/**
 * @eric/shared/testing: helpers for integration tests against a real broker, exported by name.
 * (Running built services as processes is `@eric/shared/testing/process`.)
 */
export {
  isolatedRunEnv,
  produceRecords,
  readRecords,
  testKafkaSettings,
  uniqueName,
  type OutgoingRecord,
  type ReadOptions,
} from './kafka.js';
export { finalKey, finalsOf, readResults, waitForFinals } from './results.js';
