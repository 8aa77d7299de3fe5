import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KafkaConsumer, Producer, connect, consumeBatch, disconnect, flush, transactions } from '../src/kafka/rdkafka.js';
import { rdkafkaConnectionConfig } from '../src/kafka/settings.js';
import { TopicAdmin, TopicMismatchError } from '../src/kafka/topic-admin.js';
import { produceRecords, readRecords, testKafkaSettings, uniqueName } from '../src/testing/kafka.js';

const settings = testKafkaSettings(inject('kafkaBrokers'));
let admin: TopicAdmin;

beforeAll(() => {
  admin = new TopicAdmin(settings);
});
afterAll(() => admin.close());

describe('a real broker', () => {
  it('round-trips records with keys, headers and explicit partitions', async () => {
    const topic = uniqueName('roundtrip');
    await admin.ensureTopics([{ name: topic, partitions: 3 }]);
    await produceRecords(settings, topic, [
      { key: '352:default', value: '{"n":1}', partition: 0 },
      { key: '352:', value: '{"n":2}', partition: 2, headers: [{ reason: 'x' }] },
      { key: null, value: '{"n":3}', partition: 2 },
    ]);
    const records = await readRecords(settings, topic, { partitions: [0, 1, 2], count: 3 });
    const seen = records.map((r) => ({ partition: r.partition, key: r.key?.toString() ?? null, value: r.value?.toString() }));
    expect(seen).toEqual(
      expect.arrayContaining([
        { partition: 0, key: '352:default', value: '{"n":1}' },
        { partition: 2, key: '352:', value: '{"n":2}' },
        { partition: 2, key: null, value: '{"n":3}' },
      ]),
    );
    const withHeader = records.find((r) => r.key?.toString() === '352:');
    expect(withHeader?.headers?.[0]?.reason?.toString()).toBe('x');
  });
});

describe('TopicAdmin.ensureTopics', () => {
  it('creates missing topics with their partitions and configs, and is idempotent', async () => {
    const compacted = uniqueName('changelog');
    const plain = uniqueName('plain');
    const specs = [
      { name: compacted, partitions: 4, config: { 'cleanup.policy': 'compact,delete', 'retention.ms': '600000' } },
      { name: plain, partitions: 1 },
    ];
    await admin.ensureTopics(specs);
    await admin.ensureTopics(specs);
    await Promise.all([admin.ensureTopics(specs), new TopicAdmin(settings).ensureTopics(specs)]);
    expect(await admin.partitionCount(compacted)).toBe(4);
    expect(await admin.partitionCount(plain)).toBe(1);
    expect(await admin.listTopics()).toEqual(expect.arrayContaining([compacted, plain]));
  });

  it('refuses an existing topic with another partition count, saying how to fix it', async () => {
    const topic = uniqueName('mismatch');
    await admin.ensureTopics([{ name: topic, partitions: 2 }]);
    const attempt = admin.ensureTopics([{ name: topic, partitions: 4 }]);
    await expect(attempt).rejects.toBeInstanceOf(TopicMismatchError);
    await expect(admin.ensureTopics([{ name: topic, partitions: 4 }])).rejects.toThrow(
      `topic "${topic}" has 2 partitions but 4 are required`,
    );
    await expect(admin.ensureTopics([{ name: topic, partitions: 1 }])).rejects.toThrow(/cannot remove partitions/);
  });

  it('accepts any partition count when the spec does not require an exact one', async () => {
    const topic = uniqueName('any-count');
    await admin.ensureTopics([{ name: topic, partitions: 3 }]);
    await admin.ensureTopics([{ name: topic, partitions: 8, exactPartitions: false }]);
    expect(await admin.partitionCount(topic)).toBe(3);
  });

  it('grows a topic when asked to', async () => {
    const topic = uniqueName('grow');
    await admin.ensureTopics([{ name: topic, partitions: 2 }]);
    await admin.addPartitions(topic, 5);
    await admin.ensureTopics([{ name: topic, partitions: 5 }]);
    expect(await admin.partitionCount(topic)).toBe(5);
  });
});

describe('transactions', () => {
  it('shows committed records to read_committed consumers and hides aborted ones', async () => {
    const topic = uniqueName('txn');
    await admin.ensureTopics([{ name: topic, partitions: 1 }]);
    const producer = new Producer({ ...rdkafkaConnectionConfig(settings), 'transactional.id': uniqueName('eric-test-txn') });
    await connect(producer);
    try {
      await transactions.init(producer, 30_000);

      await transactions.begin(producer);
      producer.produce(topic, 0, Buffer.from('committed-1'));
      producer.produce(topic, 0, Buffer.from('committed-2'));
      await transactions.commit(producer, 30_000);

      await transactions.begin(producer);
      producer.produce(topic, 0, Buffer.from('aborted'));
      await flush(producer);
      await transactions.abort(producer, 30_000);

      await transactions.begin(producer);
      producer.produce(topic, 0, Buffer.from('committed-3'));
      await transactions.commit(producer, 30_000);
    } finally {
      await disconnect(producer);
    }

    const committed = await readRecords(settings, topic, { partitions: [0], idleMs: 1500 });
    expect(committed.map((r) => r.value?.toString())).toEqual(['committed-1', 'committed-2', 'committed-3']);

    const uncommitted = await readRecords(settings, topic, { partitions: [0], idleMs: 1500, isolation: 'read_uncommitted' });
    expect(uncommitted.map((r) => r.value?.toString())).toContain('aborted');
  });

  it('commits consumed offsets atomically with the output (sendOffsetsToTransaction)', async () => {
    const input = uniqueName('txn-in');
    const output = uniqueName('txn-out');
    const group = uniqueName('txn-group');
    await admin.ensureTopics([{ name: input, partitions: 1 }, { name: output, partitions: 1 }]);
    await produceRecords(settings, input, ['a', 'b', 'c'].map((value) => ({ value })));

    const consumer = new KafkaConsumer(
      { ...rdkafkaConnectionConfig(settings), 'group.id': group, 'enable.auto.commit': false, 'isolation.level': 'read_committed' },
      { 'auto.offset.reset': 'earliest' },
    );
    consumer.setDefaultConsumeTimeout(200);
    const producer = new Producer({ ...rdkafkaConnectionConfig(settings), 'transactional.id': uniqueName('eric-test-copy') });
    await Promise.all([connect(consumer), connect(producer)]);
    try {
      consumer.assign([{ topic: input, partition: 0, offset: 0 }]);
      await transactions.init(producer, 30_000);
      const messages = [];
      while (messages.length < 3) messages.push(...(await consumeBatch(consumer, 10)));
      await transactions.begin(producer);
      for (const message of messages) producer.produce(output, 0, Buffer.from(message.value!.toString().toUpperCase()));
      await transactions.sendOffsets(producer, [{ topic: input, partition: 0, offset: messages.at(-1)!.offset + 1 }], consumer, 30_000);
      await transactions.commit(producer, 30_000);

      const committed = await new Promise<Array<{ offset: number }>>((resolve, reject) =>
        consumer.committed([{ topic: input, partition: 0 }], 10_000, (err, offsets) => (err ? reject(err) : resolve(offsets))),
      );
      expect(committed[0]?.offset).toBe(3);
    } finally {
      await Promise.all([disconnect(consumer), disconnect(producer)]);
    }
    const copied = await readRecords(settings, output, { partitions: [0], count: 3 });
    expect(copied.map((r) => r.value?.toString())).toEqual(['A', 'B', 'C']);
  });
});
