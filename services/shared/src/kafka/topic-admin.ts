/**
 * Topic provisioning: make sure the topics a service needs exist with the partition count it
 * relies on. Safe to run from many processes at once (a concurrent creation is not an error).
 * A topic that exists with another partition count is a clear error: silently using it would
 * send keys to the wrong partitions.
 *
 * On a secured cluster the services may be allowed to use their topics but not to create them
 * (docs/operations.md, "Running against a secured cluster"): a creation refused by the ACLs is
 * fine when the topic exists, and a clear error naming the user when it does not. Credentials,
 * TLS or ACLs that keep a call from working are reported as a KafkaAccessError (access-errors.ts).
 */
import { AccessWatch, KafkaAccessError, clientCreationError } from './access-errors.js';
import { AdminClient, ErrorCode, call, type IAdminClient, type LibrdKafkaError } from './rdkafka.js';
import { rdkafkaConnectionConfig, type KafkaSettings } from './settings.js';
import type { Logger } from '../logger.js';

export interface TopicSpec {
  name: string;
  partitions: number;
  /** Defaults to the settings' replication factor; -1 uses the brokers' `default.replication.factor`. */
  replicationFactor?: number;
  /** Topic-level configs such as `cleanup.policy` or `retention.ms`, applied at creation. */
  config?: Record<string, string>;
  /**
   * Whether an existing topic must have exactly `partitions` partitions (default true). Readers
   * in a consumer group, such as the repartition stage on `visits`, work with any count.
   */
  exactPartitions?: boolean;
  /**
   * The partition count follows the deployment's scale, as the aggregator's repartition and
   * changelog topics follow its replica count. `provisionTopics` grows such a topic when it has
   * fewer partitions and refuses it when it has more (Kafka cannot remove partitions, and a
   * partition no process owns is never read); `ensureTopics` leaves it to `exactPartitions`.
   */
  followsScale?: boolean;
}

export class TopicMismatchError extends Error {
  override readonly name = 'TopicMismatchError';
  constructor(
    readonly topic: string,
    readonly actualPartitions: number,
    readonly requiredPartitions: number,
  ) {
    super(
      `topic "${topic}" has ${actualPartitions} partitions but ${requiredPartitions} are required. ` +
        (actualPartitions < requiredPartitions
          ? `Add partitions (kafka-topics --alter --topic ${topic} --partitions ${requiredPartitions}) as the scaling procedure in docs/aggregator.md describes, or configure ${actualPartitions} partitions.`
          : `Kafka cannot remove partitions: configure ${actualPartitions} partitions, or delete and recreate the topic.`),
    );
  }
}

/**
 * The admin client keeps a connection to every broker rather than only to those a request needs
 * (librdkafka's default, "sparse connections"). An admin request waits for the node the client
 * takes for the controller, and with sparse connections each look-up asks that node's thread to
 * connect *now*, which cancels its reconnect backoff. A node that refuses connections (crashed,
 * its port closed) fails each attempt at once; the failure wakes the waiting request, which asks
 * again: a loop between the two threads that kept an aggregator at 50-100 % of a core for as
 * long as the node was down (issue 22, docs/operations.md). Without sparse connections the
 * look-up asks nothing, and the node is retried with the normal backoff (reconnect.backoff.ms
 * 100 ms, doubling up to reconnect.backoff.max.ms, 10 s). The cost: a connection to each broker.
 * (librdkafka marks the property hidden: CONFIGURATION.md and the package's typings leave it
 * out, hence a constant of its own rather than a line in the typed literal.)
 */
const EVERY_BROKER_CONNECTED = { 'enable.sparse.connections': false };

export interface TopicAdminOptions {
  timeoutMs?: number;
  logger?: Logger;
}

export class TopicAdmin {
  readonly #client: IAdminClient;
  readonly #settings: KafkaSettings;
  readonly #access: AccessWatch;
  readonly #timeoutMs: number;
  readonly #replicationFactor: number;
  readonly #logger: Logger | undefined;

  constructor(settings: KafkaSettings, { timeoutMs = 30_000, logger }: TopicAdminOptions = {}) {
    this.#settings = settings;
    this.#access = new AccessWatch(settings);
    try {
      this.#client = AdminClient.create(
        {
          ...rdkafkaConnectionConfig(settings),
          'client.id': `${settings.clientId}-admin`,
          // Connection closes are logged: one at the first request tells a protocol mismatch.
          'log.connection.close': true,
          ...EVERY_BROKER_CONNECTED,
        },
        { 'event.error': this.#access.observe, 'event.log': this.#access.observeLog },
      );
    } catch (error) {
      throw clientCreationError(error, settings);
    }
    this.#timeoutMs = timeoutMs;
    this.#replicationFactor = settings.replicationFactor;
    this.#logger = logger;
  }

  /** Creates the missing topics and checks the partition count of all of them. */
  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    await this.#explained(() => this.#ensure(specs, false));
  }

  /**
   * `ensureTopics` for a deployment step (the aggregator's `provision` command): a topic that
   * follows the scale is also grown to its partition count, and one with more partitions is a
   * TopicMismatchError even though the services would accept it.
   */
  async provisionTopics(specs: TopicSpec[]): Promise<void> {
    await this.#explained(() => this.#ensure(specs, true));
  }

  /** Runs admin calls; a failure caused by this client's credentials, TLS or ACLs becomes a KafkaAccessError. */
  async #explained<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw this.#access.explain(error);
    }
  }

  /** The number of partitions of a topic; retried briefly because a new topic takes a moment to appear. */
  async partitionCount(topic: string): Promise<number> {
    return this.#explained(() => this.#partitionCount(topic));
  }

  async #partitionCount(topic: string): Promise<number> {
    const deadline = Date.now() + this.#timeoutMs;
    for (;;) {
      try {
        const [description] = await call<Array<{ partitions: unknown[]; error?: LibrdKafkaError }>>('describeTopics', this.#timeoutMs, (done) =>
          this.#client.describeTopics([topic], { timeout: this.#timeoutMs }, done),
        );
        if (description?.error) throw description.error;
        if (description && description.partitions.length > 0) return description.partitions.length;
      } catch (error) {
        if (!isUnknownTopic(error) || Date.now() > deadline) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * Grows a topic to `partitions` partitions (Kafka cannot shrink one), and returns once the
   * broker's metadata shows them: the controller answers before every broker knows, and a
   * partition count read right after would still be the old one.
   */
  async addPartitions(topic: string, partitions: number): Promise<void> {
    await call('createPartitions', this.#timeoutMs, (done) => this.#client.createPartitions(topic, partitions, this.#timeoutMs, done));
    const deadline = Date.now() + this.#timeoutMs;
    for (;;) {
      const now = await this.#partitionCount(topic);
      if (now >= partitions) return;
      if (Date.now() > deadline) throw new Error(`topic "${topic}" was grown to ${partitions} partitions, but the metadata still shows ${now} after ${this.#timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async deleteTopic(topic: string): Promise<void> {
    await call('deleteTopic', this.#timeoutMs, (done) => this.#client.deleteTopic(topic, this.#timeoutMs, done));
  }

  async listTopics(): Promise<string[]> {
    return call<string[]>('listTopics', this.#timeoutMs, (done) => this.#client.listTopics({ timeout: this.#timeoutMs }, done));
  }

  close(): void {
    this.#client.disconnect();
  }

  async #ensure(specs: TopicSpec[], provisioning: boolean): Promise<void> {
    for (const spec of specs) {
      const created = await this.#createIfMissing(spec);
      const partitions = await this.#partitionCount(spec.name).catch((error: unknown) => {
        if (created === 'not allowed' && isUnknownTopic(error)) {
          throw new KafkaAccessError(
            'KAFKA_SASL_USERNAME',
            `topic "${spec.name}" does not exist and user "${this.#settings.saslUsername}" may not create it: create the topics first (the aggregator's provision command, run by a user allowed to create them)`,
            { cause: error },
          );
        }
        throw error;
      });
      const scaled = provisioning && spec.followsScale === true;
      if (scaled && partitions < spec.partitions) {
        await this.addPartitions(spec.name, spec.partitions);
        this.#logger?.info({ topic: spec.name, from: partitions, to: spec.partitions }, 'topic grown');
        continue;
      }
      if ((scaled || spec.exactPartitions !== false) && partitions !== spec.partitions) throw new TopicMismatchError(spec.name, partitions, spec.partitions);
      this.#logger?.info({ topic: spec.name, partitions, created: created === true }, created === true ? 'topic created' : 'topic exists');
    }
  }

  /** true = created; false = it exists; 'not allowed' = the ACLs do not let this user create it (it may exist). */
  async #createIfMissing(spec: TopicSpec): Promise<boolean | 'not allowed'> {
    try {
      await call('createTopic', this.#timeoutMs, (done) =>
        this.#client.createTopic(
          {
            topic: spec.name,
            num_partitions: spec.partitions,
            replication_factor: spec.replicationFactor ?? this.#replicationFactor,
            config: spec.config ?? {},
          },
          this.#timeoutMs,
          done,
        ),
      );
      return true;
    } catch (error) {
      const code = (error as LibrdKafkaError).code;
      if (code === ErrorCode.ERR_TOPIC_ALREADY_EXISTS) return false;
      // Kafka answers so whether or not the topic exists: the partition count check tells.
      if (code === ErrorCode.ERR_TOPIC_AUTHORIZATION_FAILED || code === ErrorCode.ERR_CLUSTER_AUTHORIZATION_FAILED) return 'not allowed';
      const access = this.#access.explain(error);
      if (access instanceof KafkaAccessError) throw access;
      throw new Error(`could not create topic "${spec.name}": ${(error as Error).message}`, { cause: error });
    }
  }
}

function isUnknownTopic(error: unknown): boolean {
  const code = (error as LibrdKafkaError | null)?.code;
  return code === ErrorCode.ERR_UNKNOWN_TOPIC_OR_PART || code === ErrorCode.ERR__UNKNOWN_TOPIC;
}
