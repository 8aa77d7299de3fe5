package dev.eric.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.state.WindowStore;

/**
 * Eric's topology in Kafka Streams' own DSL, for `make bench-compare`: unique visits per
 * (account_id, store_id) in tumbling event-time windows, one final count per window.
 *
 * <pre>
 * visits (JSON) → selectKey "account_id:store_id" → repartition (P partitions)
 *   → groupByKey → windowedBy(size, grace) → aggregate into the set of visit ids (RocksDB)
 *   → suppress(untilWindowCloses) → {account_id, store_id, window_start, window_end, unique_visitors}
 * </pre>
 *
 * Exactly-once v2, two stream threads, every other setting Kafka Streams' default. Settings come
 * from the environment or from {@code --name value} arguments (the argument wins):
 * KAFKA_BROKERS / --bootstrap, APPLICATION_ID / --application-id, INPUT_TOPIC / --input,
 * OUTPUT_TOPIC / --output, PARTITIONS / --partitions, STATE_DIR / --state-dir,
 * WINDOW_SECONDS / --window-seconds, GRACE_SECONDS / --grace-seconds, STREAM_THREADS / --threads.
 * Output: {@code window_start} and {@code window_end} in epoch seconds, like Eric's; a visit
 * without store has {@code store_id: null}.
 */
public final class VisitCounter {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Event time: the visit's own {@code timestamp} (epoch seconds, fractions allowed), in ms. Kafka
   * Streams hands the extractor the deserialized value, so each visit is parsed once.
   */
  public static final class VisitTimestamp implements TimestampExtractor {
    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
      // An unreadable visit (null) is dropped by the topology; any valid timestamp will do for it.
      return record.value() instanceof Visit visit ? visit.timestampMs() : Math.max(partitionTime, 0);
    }
  }

  /** Visits from JSON; null for a record that is not a valid visit. Never written. */
  static Serde<Visit> visitSerde() {
    return Serdes.serdeFrom(
        (topic, visit) -> {
          throw new UnsupportedOperationException("visits are only read");
        },
        (topic, bytes) -> bytes == null ? null : Visit.parse(new String(bytes, StandardCharsets.UTF_8)));
  }

  /** The fields of a visit the count needs; null when the record is not a valid visit. */
  record Visit(String id, long accountId, String storeId, long timestampMs) {
    static Visit parse(String value) {
      if (value == null) return null;
      try {
        JsonNode node = JSON.readTree(value);
        JsonNode id = node.get("id");
        JsonNode account = node.get("account_id");
        JsonNode store = node.get("store_id");
        JsonNode timestamp = node.get("timestamp");
        if (id == null || !id.isTextual() || account == null || !account.canConvertToLong() || !account.isIntegralNumber()
            || timestamp == null || !timestamp.isNumber() || (store != null && !store.isNull() && !store.isTextual())) {
          return null;
        }
        String storeId = store == null || store.isNull() ? null : store.asText();
        return new Visit(id.asText(), account.asLong(), storeId, Math.round(timestamp.asDouble() * 1000));
      } catch (Exception e) {
        return null;
      }
    }

    /** "account_id:store_id"; a missing store is the empty string after the colon. */
    String key() {
      return accountId + ":" + (storeId == null ? "" : storeId);
    }
  }

  /** The set of visit ids of one window, stored as the ids joined by newlines (ids have none). */
  static final class IdSetSerde {
    static Serde<Set<String>> serde() {
      return Serdes.serdeFrom(
          (topic, ids) -> ids == null ? null : String.join("\n", ids).getBytes(StandardCharsets.UTF_8),
          (topic, bytes) -> {
            Set<String> ids = new LinkedHashSet<>();
            if (bytes == null || bytes.length == 0) return ids;
            for (String id : new String(bytes, StandardCharsets.UTF_8).split("\n")) ids.add(id);
            return ids;
          });
    }
  }

  static Topology topology(String input, String output, int partitions, Duration size, Duration grace) {
    StreamsBuilder builder = new StreamsBuilder();
    builder
        .stream(input, Consumed.with(Serdes.String(), visitSerde()).withTimestampExtractor(new VisitTimestamp()))
        .filter((key, visit) -> visit != null)
        .selectKey((key, visit) -> visit.key())
        .mapValues(Visit::id)
        .repartition(Repartitioned.with(Serdes.String(), Serdes.String()).withName("visits-by-key").withNumberOfPartitions(partitions))
        .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
        .windowedBy(TimeWindows.ofSizeAndGrace(size, grace))
        .aggregate(
            LinkedHashSet::new,
            (key, id, ids) -> {
              ids.add(id);
              return ids;
            },
            Materialized.<String, Set<String>, WindowStore<Bytes, byte[]>>as("visit-ids")
                .withKeySerde(Serdes.String())
                .withValueSerde(IdSetSerde.serde()))
        .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
        .toStream()
        .map((window, ids) -> {
          String key = window.key();
          int colon = key.indexOf(':');
          ObjectNode result = JSON.createObjectNode();
          result.put("account_id", Long.parseLong(key.substring(0, colon)));
          String store = key.substring(colon + 1);
          if (store.isEmpty()) result.putNull("store_id");
          else result.put("store_id", store);
          result.put("window_start", window.window().start() / 1000);
          result.put("window_end", window.window().end() / 1000);
          result.put("unique_visitors", ids.size());
          return KeyValue.pair(key, result.toString());
        })
        .to(output, Produced.with(Serdes.String(), Serdes.String()));
    return builder.build();
  }

  private static String setting(String[] args, String flag, String env, String fallback) {
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals(flag)) return args[i + 1];
    }
    String value = System.getenv(env);
    return value == null || value.isEmpty() ? fallback : value;
  }

  public static void main(String[] args) throws InterruptedException {
    String bootstrap = setting(args, "--bootstrap", "KAFKA_BROKERS", "127.0.0.1:9092");
    String applicationId = setting(args, "--application-id", "APPLICATION_ID", "eric-kafka-streams-bench");
    String input = setting(args, "--input", "INPUT_TOPIC", "visits");
    String output = setting(args, "--output", "OUTPUT_TOPIC", "active-visitors-kafka-streams");
    int partitions = Integer.parseInt(setting(args, "--partitions", "PARTITIONS", "4"));
    String stateDir = setting(args, "--state-dir", "STATE_DIR", System.getProperty("java.io.tmpdir") + "/kafka-streams");
    Duration size = Duration.ofMillis(Math.round(Double.parseDouble(setting(args, "--window-seconds", "WINDOW_SECONDS", "60")) * 1000));
    Duration grace = Duration.ofMillis(Math.round(Double.parseDouble(setting(args, "--grace-seconds", "GRACE_SECONDS", "10")) * 1000));
    String threads = setting(args, "--threads", "STREAM_THREADS", "2");

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);

    Topology topology = topology(input, output, partitions, size, grace);
    KafkaStreams streams = new KafkaStreams(topology, props);
    CountDownLatch stopped = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING) System.err.println("kafka-streams: running");
      if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) stopped.countDown();
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close(Duration.ofSeconds(30));
      stopped.countDown();
    }));
    System.err.println("kafka-streams: " + applicationId + " reading " + input + " on " + bootstrap + ", " + partitions + " repartition partitions, window "
        + size.toMillis() / 1000.0 + " s, grace " + grace.toMillis() / 1000.0 + " s, exactly_once_v2, " + threads + " stream threads");
    streams.start();
    stopped.await();
    if (streams.state() == KafkaStreams.State.ERROR) System.exit(1);
  }
}
