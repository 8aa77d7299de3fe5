/**
 * Restore: rebuild a partition's count state by reading its changelog partition from the start
 * to the end, before any new visit is processed. The end is the changelog's high watermark at the
 * moment restore begins; the caller has already called initTransactions(), which fenced any
 * previous owner of the partition and aborted its open transaction, so nothing is written to the
 * partition while we read it.
 */
import { ShutdownInterrupted, kafka, rdkafkaConnectionConfig, type KafkaSettings, type Logger } from '@eric/shared';
import type { RestoredState, WindowCounter } from './window-counter.js';

export interface RestoreProgress {
  read: number;
  total: number;
}

export interface RestoreResult extends RestoredState {
  records: number;
  seconds: number;
  unreadable: number;
}

export interface RestoreOptions {
  settings: KafkaSettings;
  topic: string;
  partition: number;
  groupId: string;
  /** Where the records go (its restoreRecord and finishRestore). */
  state: Pick<WindowCounter, 'restoreRecord' | 'finishRestore'>;
  logger: Logger;
  onProgress?: (progress: RestoreProgress) => void;
  batchSize?: number;
  /** The changelog offset where the records of the windows open at the last commit begin. */
  from?: number;
  /** True once the process is shutting down: the restore ends with ShutdownInterrupted. */
  stopping?: () => boolean;
}

export async function restoreFromChangelog(options: RestoreOptions): Promise<RestoreResult> {
  const { topic, partition, state, logger } = options;
  const started = process.hrtime.bigint();
  const consumer = new kafka.KafkaConsumer(
    {
      ...rdkafkaConnectionConfig(options.settings),
      'client.id': `${options.settings.clientId}-restore-${partition}`,
      'group.id': options.groupId,
      'enable.auto.commit': false,
      'enable.partition.eof': true,
      'isolation.level': 'read_committed',
      // Restore wants throughput: large fetches and a local queue, so that the next records are
      // already fetched and decompressed while JavaScript inserts the current batch. Each record
      // holds the ids of a batch (changelog.ts), so 32 MiB is hundreds of thousands of ids; a
      // deeper queue only raises the resident memory the process keeps afterwards.
      'fetch.max.bytes': 32 * 1024 * 1024,
      'max.partition.fetch.bytes': 16 * 1024 * 1024,
      'queued.max.messages.kbytes': 32 * 1024,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  consumer.setDefaultConsumeTimeout(200);
  kafka.returnBatchesPromptly(consumer);
  await kafka.connect(consumer);
  let records = 0;
  let unreadable = 0;
  let end = 0;
  try {
    const { lowOffset, highOffset } = await kafka.call<{ lowOffset: number; highOffset: number }>('queryWatermarkOffsets', 10_000, (done) =>
      consumer.queryWatermarkOffsets(topic, partition, 10_000, done),
    );
    // Records before `from` belong to windows that were closed at the last commit: skip them.
    const start = Math.min(Math.max(lowOffset, options.from ?? 0), highOffset);
    const total = Math.max(0, highOffset - start);
    logger.info({ topic, partition, lowOffset, start, highOffset, total }, 'restoring state from the changelog');
    options.onProgress?.({ read: 0, total });
    if (total > 0) {
      let reachedEnd = false;
      consumer.on('partition.eof', (eof) => {
        if (eof.partition === partition && eof.offset >= highOffset) reachedEnd = true;
      });
      consumer.assign([{ topic, partition, offset: start }]);
      let lastLog = Date.now();
      while (!reachedEnd) {
        if (options.stopping?.()) throw new ShutdownInterrupted('restore');
        const batch = await kafka.consumeBatch(consumer, options.batchSize ?? 50_000);
        for (const message of batch) {
          if (!state.restoreRecord(message.offset, message.key, message.value)) unreadable++;
          if (message.offset + 1 >= highOffset) reachedEnd = true;
        }
        records += batch.length;
        options.onProgress?.({ read: Math.min(records, total), total });
        if (Date.now() - lastLog > 5_000) {
          logger.info({ read: records, total }, 'still restoring');
          lastLog = Date.now();
        }
      }
    }
    end = highOffset;
  } finally {
    await kafka.disconnect(consumer);
  }
  const restored = state.finishRestore(end);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const result = { records, seconds, ...restored, unreadable };
  logger.info({ ...result, recordsPerSecond: Math.round(records / Math.max(seconds, 1e-3)) }, 'state restored');
  return result;
}
