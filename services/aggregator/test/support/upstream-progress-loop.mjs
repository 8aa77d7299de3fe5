// Asks UpstreamProgress (the built one) "has everything that arrived before now been forwarded?"
// in a loop, four questions at a time, and prints one JSON line per answer. Run as a child process
// by broker-outage.int.test.ts: a crash of the native client must not take the test runner down.
//   node upstream-progress-loop.mjs <brokers> <visits topic> <repartition group>
import { kafka, rdkafkaConnectionConfig } from '@eric/shared';
import { testKafkaSettings } from '@eric/shared/testing';
import { UpstreamProgress } from '../../dist/count/upstream-progress.js';

const [brokers, topic, group] = process.argv.slice(2);
const settings = testKafkaSettings(brokers, 'upstream-loop');
const consumer = new kafka.KafkaConsumer({ ...rdkafkaConnectionConfig(settings), 'group.id': `${group}-reader` }, {});
await kafka.connect(consumer);
const progress = new UpstreamProgress(settings, topic, group, consumer);
for (;;) {
  const answers = await Promise.allSettled([0, 1, 2, 3].map(() => progress.forwardedBefore(Date.now())));
  for (const answer of answers) {
    const line = answer.status === 'fulfilled' ? { forwarded: answer.value } : { error: String(answer.reason?.message ?? answer.reason) };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
}
