/**
 * The Helm chart without a cluster: helm lint, helm template with the defaults and every
 * ci/*-values.yaml (and the k8s/ values skaffold uses), every rendered manifest validated
 * strictly against the Kubernetes API schemas, and the rules the chart promises (selectors,
 * hardening, RBAC, probes, P = replicas, hooks, fail on impossible values).
 */
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { aggregatorConfigSchema } from '../../services/aggregator/src/config.js';
import { gatewayConfigSchema } from '../../services/gateway/src/config.js';
import { producerConfigSchema } from '../../services/producer/src/config.js';
import { describeSchema } from '../../services/shared/src/config.js';
import { chartDir, ciValuesFiles, find, helmTemplate, kubeconform, kubeVersion, render, root, run, tempDir, tools, type Manifest } from './tools.js';

const variants: Array<[string, string[]]> = [
  ['defaults', []],
  ...ciValuesFiles().map((file): [string, string[]] => [`ci/${file.split('/').pop()}`, ['-f', file]]),
  ['k8s/eric-dev-values.yaml', ['-f', join(root, 'k8s/eric-dev-values.yaml')]],
  ['k8s/eric-dev-values.yaml + k8s/eric-monitoring-values.yaml', ['-f', join(root, 'k8s/eric-dev-values.yaml'), '-f', join(root, 'k8s/eric-monitoring-values.yaml')]],
];

const workloadKinds = new Set(['Deployment', 'StatefulSet', 'Job']);
const podSpecOf = (m: Manifest) => (m.kind === 'Pod' ? m.spec : m.spec.template.spec);
const erics = (manifests: Manifest[]) =>
  manifests.filter((m) => (workloadKinds.has(m.kind) || m.kind === 'Pod') && m.metadata.labels?.['app.kubernetes.io/component'] !== 'kafka');

beforeAll(() => {
  tools();
}, 900_000);

describe('helm lint and strict schema validation', () => {
  it.each(variants)('%s: helm lint --strict passes', (_name, args) => {
    const result = run(tools().HELM, ['lint', chartDir, '--strict', '--kube-version', kubeVersion(), ...args]);
    expect(result.stderr + result.stdout).toContain('0 chart(s) failed');
    expect(result.status).toBe(0);
  });

  it.each(variants)('%s: every rendered manifest is valid against the Kubernetes %s schemas, unknown fields included', (_name, args) => {
    const rendered = helmTemplate(args);
    expect(rendered.stderr).toBe('');
    expect(rendered.status).toBe(0);
    const validation = kubeconform(rendered.stdout);
    const problems = validation.resources.filter((r) => r.status !== 'statusValid').map((r) => `${r.kind}/${r.name}: ${r.msg}`);
    expect(problems).toEqual([]);
    expect(validation.summary.valid).toBeGreaterThanOrEqual(10);
    expect(validation.status).toBe(0);
  });

  it('the validator itself rejects an unknown field, a wrong type, a missing required field and an unknown kind', () => {
    const [statefulSet] = render(['--show-only', 'templates/aggregator-statefulset.yaml']);
    const broken = (change: (m: any) => void) => {
      const copy = structuredClone(statefulSet!);
      change(copy);
      return JSON.stringify(copy);
    };
    const cases = [
      broken((m) => (m.spec.podManagmentPolicy = 'Parallel')), // typo: unknown field
      broken((m) => (m.spec.template.spec.containers[0].ports[0].containerPort = 'http')), // wrong type
      broken((m) => delete m.spec.selector), // required
      broken((m) => (m.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true)), // wrong case
      JSON.stringify({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'x' } }), // no schema: not skipped
    ];
    for (const manifest of cases) {
      const validation = kubeconform(manifest);
      expect(validation.status, manifest.slice(0, 120)).not.toBe(0);
      expect(validation.summary.valid).toBe(0);
    }
    expect(kubeconform(JSON.stringify(statefulSet)).summary.valid).toBe(1);
  });
});

describe('the default release', () => {
  let manifests: Manifest[];
  beforeAll(() => {
    manifests = render();
  });

  it('labels everything the standard way and selects by name + instance + component', () => {
    for (const m of manifests) {
      expect(m.metadata.labels, `${m.kind}/${m.metadata.name}`).toMatchObject({
        'app.kubernetes.io/name': 'eric',
        'app.kubernetes.io/instance': 'eric',
        'app.kubernetes.io/managed-by': 'Helm',
        'helm.sh/chart': 'eric-0.1.0',
      });
    }
    const selectors = manifests
      .filter((m) => workloadKinds.has(m.kind) && m.kind !== 'Job')
      .map((m) => m.spec.selector.matchLabels as Record<string, string>);
    expect(selectors).toHaveLength(4); // aggregator, gateway, producer, kafka
    for (const selector of selectors) {
      expect(Object.keys(selector).sort()).toEqual(['app.kubernetes.io/component', 'app.kubernetes.io/instance', 'app.kubernetes.io/name']);
    }
    expect(new Set(selectors.map((s) => s['app.kubernetes.io/component'])).size).toBe(4);
    for (const service of manifests.filter((m) => m.kind === 'Service')) {
      expect(Object.keys(service.spec.selector)).toContain('app.kubernetes.io/component');
    }
  });

  it('runs the aggregator as a Parallel StatefulSet with P = replicas, its pod name from the downward API and a headless Service', () => {
    const sts = find(manifests, 'StatefulSet', 'eric-aggregator');
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    expect(sts.spec.replicas).toBe(4);
    const headless = find(manifests, 'Service', sts.spec.serviceName);
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    const pod = sts.spec.template.spec;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
    const env = Object.fromEntries(pod.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    expect(env.POD_NAME).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(env.POD_NAMESPACE).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
    expect(env.STATEFULSET_NAME).toBe('eric-aggregator');
    expect(find(manifests, 'ConfigMap', 'eric-config').data.PARTITIONS).toBe('4');
    const pdb = find(manifests, 'PodDisruptionBudget', 'eric-aggregator');
    expect(pdb.spec.selector.matchLabels).toEqual(sts.spec.selector.matchLabels);
    for (const replicas of [1, 6]) {
      const scaled = render(['--set', `aggregator.replicas=${replicas}`]);
      expect(find(scaled, 'StatefulSet', 'eric-aggregator').spec.replicas).toBe(replicas);
      expect(find(scaled, 'ConfigMap', 'eric-config').data.PARTITIONS).toBe(String(replicas));
      expect(jobConfig(scaled).PARTITIONS, 'the topic Job grows the topics to the new P').toBe(String(replicas));
    }
  });

  it('runs one gateway with the Recreate strategy behind a Service on 6066', () => {
    const gateway = find(manifests, 'Deployment', 'eric-gateway');
    expect(gateway.spec.replicas).toBe(1);
    expect(gateway.spec.strategy).toEqual({ type: 'Recreate' });
    const service = find(manifests, 'Service', 'eric-gateway');
    expect(service.spec.ports).toEqual([{ name: 'http', port: 6066, targetPort: 'http', protocol: 'TCP' }]);
    expect(find(manifests, 'Service', 'eric-producer').spec.ports[0].port).toBe(6060);
  });

  it('hardens every Eric container: non-root, read-only root with /tmp as emptyDir, no capabilities, RuntimeDefault seccomp, resources, httpGet probes', () => {
    const workloads = erics(manifests);
    expect(workloads.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'Deployment/eric-gateway',
      'Deployment/eric-producer',
      'Job/eric-topics',
      'Pod/eric-test',
      'StatefulSet/eric-aggregator',
    ]);
    for (const workload of workloads) {
      const pod = podSpecOf(workload);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.enableServiceLinks, workload.metadata.name).toBe(false);
      for (const container of pod.containers) {
        const where = `${workload.metadata.name}/${container.name}`;
        expect(container.securityContext, where).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(container.resources.requests, where).toBeDefined();
        expect(container.resources.limits.memory, where).toBeDefined();
        const tmp = container.volumeMounts.find((v: any) => v.mountPath === '/tmp');
        expect(pod.volumes.find((v: any) => v.name === tmp.name).emptyDir, where).toBeDefined();
        if (workload.kind === 'Deployment' || workload.kind === 'StatefulSet') {
          expect(container.livenessProbe.httpGet.path, where).toBe('/healthz');
          expect(container.readinessProbe.httpGet.path, where).toBe('/ready');
          expect(container.startupProbe.httpGet, where).toBeDefined();
        }
      }
    }
  });

  it('gives Kubernetes API access to the aggregator only: get on its own StatefulSet', () => {
    const role = find(manifests, 'Role', 'eric-aggregator');
    expect(role.rules).toEqual([{ apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: ['eric-aggregator'], verbs: ['get'] }]);
    expect(manifests.filter((m) => m.kind === 'Role' || m.kind === 'ClusterRole')).toHaveLength(1);
    const binding = find(manifests, 'RoleBinding', 'eric-aggregator');
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'eric-aggregator', namespace: 'eric' }]);
    for (const workload of manifests.filter((m) => workloadKinds.has(m.kind) || m.kind === 'Pod')) {
      const pod = podSpecOf(workload);
      const isAggregator = workload.metadata.name === 'eric-aggregator';
      expect(pod.automountServiceAccountToken, workload.metadata.name).toBe(isAggregator);
      expect(pod.serviceAccountName, workload.metadata.name).toBe(isAggregator ? 'eric-aggregator' : undefined);
    }
  });

  it('rolls only the workloads whose configuration changed (checksum/config per component)', () => {
    const checksums = (list: Manifest[]) =>
      Object.fromEntries(
        list.filter((m) => m.kind === 'Deployment' || (m.kind === 'StatefulSet' && m.metadata.name === 'eric-aggregator')).map((m) => [m.metadata.name, m.spec.template.metadata.annotations['checksum/config']]),
      );
    const before = checksums(manifests);
    const gatewayChanged = checksums(render(['--set', 'gateway.config.GATEWAY_SNAPSHOT_WINDOWS=10']));
    expect(gatewayChanged['eric-gateway']).not.toBe(before['eric-gateway']);
    expect(gatewayChanged['eric-aggregator']).toBe(before['eric-aggregator']);
    expect(gatewayChanged['eric-producer']).toBe(before['eric-producer']);
    const sharedChanged = checksums(render(['--set', 'logLevel=debug']));
    for (const name of Object.keys(before)) expect(sharedChanged[name]).not.toBe(before[name]);
  });

  it('provisions topics in a hook, after install with the bundled broker and before it with an external Kafka, and before every upgrade: the aggregator image runs its own provision command', () => {
    const job = find(manifests, 'Job', 'eric-topics');
    expect(job.metadata.annotations?.['helm.sh/hook']).toBe('post-install,pre-upgrade');
    // An external Kafka exists before the install; on a secured one the workloads may not create topics.
    const external = render(['-f', join(chartDir, 'ci/external-kafka-sasl-values.yaml')]).filter((m) => m.metadata.name === 'eric-topics');
    expect(external.map((m) => `${m.kind} ${m.metadata.annotations?.['helm.sh/hook']}`).sort()).toEqual(['ConfigMap', 'Job', 'Secret'].map((kind) => `${kind} pre-install,pre-upgrade`));
    const container = job.spec.template.spec.containers[0];
    expect(container.image).toBe(find(manifests, 'StatefulSet', 'eric-aggregator').spec.template.spec.containers[0].image);
    expect(container.command).toEqual(['node', 'services/aggregator/dist/provision.js']);
    expect(existsSync(join(root, 'services/aggregator/src/provision.ts')), 'the command the Job runs exists').toBe(true);
    // Its settings come from a hook ConfigMap made before it (the release's is upgraded only later).
    const config = find(manifests, 'ConfigMap', 'eric-topics');
    expect(config.metadata.annotations?.['helm.sh/hook']).toBe('post-install,pre-upgrade');
    expect(Number(config.metadata.annotations?.['helm.sh/hook-weight'])).toBeLessThan(Number(job.metadata.annotations?.['helm.sh/hook-weight']));
    expect(container.envFrom).toEqual([{ configMapRef: { name: 'eric-topics' } }]);
    expect(config.data.PROVISION_TIMEOUT_SECONDS).toBe('300');
  });

  it.each([
    ['defaults', []],
    ['ci/external-kafka-sasl-values.yaml', ['-f', join(chartDir, 'ci/external-kafka-sasl-values.yaml')]],
    ['ci/existing-secrets-values.yaml', ['-f', join(chartDir, 'ci/existing-secrets-values.yaml')]],
    ['a custom retention', ['--set', 'aggregator.config.CHANGELOG_RETENTION_SECONDS=1234', '--set', 'aggregator.replicas=3']],
  ])('%s: the Job gets every setting the aggregator gets, Kafka credentials and CA included (no drift)', (_name, args) => {
    const list = render(args as string[]);
    const release = find(list, 'ConfigMap', 'eric-config').data;
    const own = new Set(describeSchema(aggregatorConfigSchema).map((row) => row.env!));
    const aggregatorSettings = Object.fromEntries(Object.entries(release).filter(([key]) => own.has(key)));
    expect(Object.keys(aggregatorSettings)).toEqual(expect.arrayContaining(['KAFKA_BROKERS', 'PARTITIONS', 'TOPIC_CHANGELOG', 'WINDOW_SECONDS']));
    expect(jobConfig(list)).toMatchObject(aggregatorSettings);
    const aggregator = find(list, 'StatefulSet', 'eric-aggregator').spec.template.spec;
    const job = list.find((m) => m.kind === 'Job')!.spec.template.spec;
    // The same credentials (from the Job's hook Secret unless they come from an existing Secret).
    const keysOf = (env: any[] = []) => env.filter((e) => e.name.startsWith('KAFKA_')).map((e) => [e.name, e.valueFrom?.secretKeyRef?.key]);
    expect(keysOf(job.containers[0].env)).toEqual(keysOf(aggregator.containers[0].env));
    const mounts = (pod: any) => pod.containers[0].volumeMounts.map((m: any) => m.mountPath);
    expect(mounts(job)).toEqual(mounts(aggregator));
  });

  it('ships the dashboard and the NOTES port-forward line', () => {
    const monitored = render(['--set', 'metrics.dashboard.enabled=true']);
    const dashboard = find(monitored, 'ConfigMap', 'eric-dashboard');
    expect(dashboard.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse(dashboard.data['eric.json'])).toEqual(JSON.parse(readFileSync(join(chartDir, 'dashboards/eric.json'), 'utf8')));
    const notes = renderNotes();
    expect(notes).toContain('kubectl --namespace prod port-forward service/visits-eric-gateway 6066:6066');
    expect(notes).toContain('websocat ws://127.0.0.1:6066/ws');
    expect(notes).not.toContain('ACLs');
  });

  it('says loudly when access control is off, and lets a non-ClusterIP gateway without tokens through only with allowAnonymous', () => {
    expect(renderNotes()).toContain('WARNING: access control is OFF');
    const anonymous = renderNotes(['--set', 'gateway.service.type=NodePort', '--set', 'gateway.auth.allowAnonymous=true']);
    expect(anonymous).toContain('and its NodePort Service reaches beyond the cluster');
    expect(find(render(['--set', 'gateway.service.type=NodePort', '--set', 'gateway.auth.allowAnonymous=true']), 'Service', 'eric-gateway').spec.type).toBe('NodePort');
    const locked = renderNotes(['--set', 'gateway.service.type=LoadBalancer', '--set', 'gateway.auth.tokens=team-token-0123456789abc=352']);
    expect(locked).not.toContain('access control is OFF');
    expect(locked).toContain("websocat -H 'Authorization: Bearer <your token>' ws://127.0.0.1:6066/ws");
  });

  it('has a helm test that checks the gateway', () => {
    const test = find(manifests, 'Pod', 'eric-test');
    expect(test.metadata.annotations?.['helm.sh/hook']).toBe('test');
    const env = Object.fromEntries(test.spec.containers[0].env.map((e: any) => [e.name, e.value]));
    expect(env.GATEWAY_URL).toBe('http://eric-gateway:6066');
    expect(env.EXPECT_AUTH).toBe('false');
    const withTokens = render(['--set', 'gateway.auth.tokens=team-token-0123456789abc=352']);
    const tokensEnv = Object.fromEntries(find(withTokens, 'Pod', 'eric-test').spec.containers[0].env.map((e: any) => [e.name, e.value]));
    expect(tokensEnv.EXPECT_AUTH).toBe('true');
  });
});

/** NOTES.txt as `helm install` prints it for release "visits" in namespace "prod". */
function renderNotes(args: string[] = []): string {
  // helm template does not render NOTES.txt: render its text as a template of a copy of the chart.
  const copy = tempDir('notes');
  cpSync(chartDir, copy, { recursive: true });
  const notesText = readFileSync(join(chartDir, 'templates/NOTES.txt'), 'utf8');
  writeFileSync(join(copy, 'templates/notes-rendered.yaml'), `{{- define "eric.test.notes" }}${notesText}{{- end }}\nnotes: |\n{{ include "eric.test.notes" . | indent 2 }}\n`);
  const result = run(tools().HELM, ['template', 'visits', copy, '--namespace', 'prod', '--kube-version', kubeVersion(), '--show-only', 'templates/notes-rendered.yaml', ...args]);
  expect(result.stderr).toBe('');
  return parse(result.stdout).notes as string;
}

/** The ACL rules in the NOTES, as sorted "user resource-type name pattern operation" lines. */
function aclsInNotes(notes: string): string[] {
  const rules: string[] = [];
  let user = '';
  for (const line of notes.split('\n')) {
    const heading = /^ {2}[a-zA-Z ]+: User:(\S+)$/.exec(line);
    if (heading) user = heading[1]!;
    const rule = /^ {4}(topics?|group|transactional id) (.+) \((literal|prefixed)\): (.+)$/.exec(line);
    if (!rule) continue;
    const type = rule[1]!.replace(/^topics$/, 'topic');
    for (const name of rule[2]!.split(', ')) for (const operation of rule[4]!.split(', ')) rules.push(`${user} ${type} ${name} ${rule[3]} ${operation}`);
  }
  return rules.sort();
}

/** The ACLs acls() in scripts/kafka-cluster.sh creates for its default APPLICATION_ID and gateway client id, in aclsInNotes' form. */
function aclsOfTheTestCluster(): string[] {
  const script = readFileSync(join(root, 'scripts/kafka-cluster.sh'), 'utf8');
  const body = script.slice(script.indexOf('acls() {'), script.indexOf('\n}\n', script.indexOf('acls() {')));
  const commands = body.replace(/\\\n\s*/g, ' ').split('\n').filter((line) => line.trim().startsWith('acl --allow-principal'));
  const rules: string[] = [];
  for (const command of commands) {
    const words = command.replaceAll('"$app-"', 'eric-aggregator-').replaceAll('"$GATEWAY_CLIENT_ID-follower"', 'eric-gateway-follower').trim().split(/\s+/);
    const option = (name: string) => words.flatMap((word, i) => (word === name ? [words[i + 1]!] : []));
    const pattern = option('--resource-pattern-type')[0] ?? 'literal';
    const resources = [...option('--topic').map((n) => `topic ${n}`), ...option('--group').map((n) => `group ${n}`), ...option('--transactional-id').map((n) => `transactional id ${n}`)];
    for (const resource of resources) for (const operation of option('--operation')) rules.push(`${option('--allow-principal')[0]!.replace('User:', '')} ${resource} ${pattern} ${operation}`);
  }
  expect(rules.length).toBeGreaterThan(20);
  return rules.sort();
}

/** The topic Job's settings: its hook ConfigMap plus its own env, values as written in the manifest. */
function jobConfig(manifests: Manifest[]): Record<string, string> {
  const job = manifests.find((m) => m.kind === 'Job');
  const env = job!.spec.template.spec.containers[0].env ?? [];
  return { ...find(manifests, 'ConfigMap', 'eric-topics').data, ...Object.fromEntries(env.map((e: any) => [e.name, e.value])) };
}

/** The Secret (name and key) each workload's pods read a setting from: producer, aggregator, gateway, provisioning. */
function secretRefs(manifests: Manifest[], variable: string): Record<string, { name: string; key: string } | undefined> {
  const pods = { producer: ['Deployment', 'eric-producer'], aggregator: ['StatefulSet', 'eric-aggregator'], gateway: ['Deployment', 'eric-gateway'], provisioning: ['Job', 'eric-topics'] };
  return Object.fromEntries(
    Object.entries(pods).map(([workload, [kind, name]]) => {
      const env = find(manifests, kind!, name!).spec.template.spec.containers[0].env ?? [];
      return [workload, env.find((e: any) => e.name === variable)?.valueFrom?.secretKeyRef];
    }),
  );
}

const external = ['--set', 'kafka.enabled=false', '--set', 'externalKafka.bootstrapServers=k:9092', '--set', 'externalKafka.securityProtocol=sasl_ssl'];

// Several renders per test: a few seconds each when the machine is busy.
describe('Kafka and secrets', { timeout: 30_000 }, () => {
  it('uses the bundled broker by default and an external one with one SASL user per workload, each from its own Secret', () => {
    const bundled = render();
    expect(find(bundled, 'ConfigMap', 'eric-config').data.KAFKA_BROKERS).toBe('eric-kafka:9092');
    expect(find(bundled, 'StatefulSet', 'eric-kafka').spec.template.spec.containers[0].image).toBe('apache/kafka:4.1.1');

    const list = render(['-f', join(chartDir, 'ci/external-kafka-sasl-values.yaml')]);
    expect(list.some((m) => m.metadata.name === 'eric-kafka')).toBe(false);
    const config = find(list, 'ConfigMap', 'eric-config').data;
    expect(config).toMatchObject({ KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SSL_CA_LOCATION: '/etc/eric/kafka-ca/ca.crt' });
    expect(JSON.stringify(config)).not.toContain('not-a-real');
    // One Secret per workload (the Job's is its hook Secret), none for a default user nobody uses.
    const stored = Object.fromEntries(list.filter((m) => m.kind === 'Secret' && m.stringData.username).map((m) => [m.metadata.name, m.stringData]));
    expect(stored).toEqual({
      'eric-kafka-sasl-producer': { username: 'eric-producer', password: 'not-a-real-producer-password' },
      'eric-kafka-sasl-aggregator': { username: 'eric-aggregator', password: 'not-a-real-aggregator-password' },
      'eric-kafka-sasl-gateway': { username: 'eric-gateway', password: 'not-a-real-gateway-password' },
      'eric-topics': { username: 'eric-admin', password: 'not-a-real-admin-password' },
    });
    const own = { producer: 'eric-kafka-sasl-producer', aggregator: 'eric-kafka-sasl-aggregator', gateway: 'eric-kafka-sasl-gateway', provisioning: 'eric-topics' };
    for (const [variable, key] of [['KAFKA_SASL_USERNAME', 'username'], ['KAFKA_SASL_PASSWORD', 'password']]) {
      expect(secretRefs(list, variable!)).toEqual(Object.fromEntries(Object.entries(own).map(([workload, name]) => [workload, { name, key }])));
    }
    // A workload's pods roll when its own credentials change, and only then.
    const checksums = (manifests: Manifest[]) =>
      Object.fromEntries(['eric-producer', 'eric-aggregator', 'eric-gateway'].map((name) => [name, manifests.find((m) => m.metadata.name === name && workloadKinds.has(m.kind))!.spec.template.metadata.annotations['checksum/secret']]));
    const changed = checksums(render(['-f', join(chartDir, 'ci/external-kafka-sasl-values.yaml'), '--set', 'externalKafka.sasl.users.producer.password=new']));
    const before = checksums(list);
    expect(changed['eric-producer']).not.toBe(before['eric-producer']);
    expect(changed['eric-aggregator']).toBe(before['eric-aggregator']);
    const gatewayEnv = find(list, 'Deployment', 'eric-gateway').spec.template.spec.containers[0].env;
    expect(gatewayEnv.find((e: any) => e.name === 'GATEWAY_AUTH_TOKENS').valueFrom.secretKeyRef).toEqual({ name: 'eric-gateway-auth', key: 'tokens' });
  });

  it('gives the default user to every workload without its own', () => {
    const shared = render([...external, '--set', 'externalKafka.sasl.username=eric', '--set', 'externalKafka.sasl.password=p']);
    expect(find(shared, 'Secret', 'eric-kafka-sasl').stringData).toEqual({ username: 'eric', password: 'p' });
    expect(find(shared, 'Secret', 'eric-topics').stringData).toEqual({ username: 'eric', password: 'p' });
    expect(secretRefs(shared, 'KAFKA_SASL_USERNAME')).toEqual({
      producer: { name: 'eric-kafka-sasl', key: 'username' },
      aggregator: { name: 'eric-kafka-sasl', key: 'username' },
      gateway: { name: 'eric-kafka-sasl', key: 'username' },
      provisioning: { name: 'eric-topics', key: 'username' },
    });

    const mixed = render([...external, '--set', 'externalKafka.sasl.existingSecret=kafka-default', '--set', 'externalKafka.sasl.users.producer.existingSecret=kafka-producer',
      '--set', 'externalKafka.sasl.users.provisioning.username=admin', '--set', 'externalKafka.sasl.users.provisioning.password=a']);
    expect(secretRefs(mixed, 'KAFKA_SASL_PASSWORD')).toEqual({
      producer: { name: 'kafka-producer', key: 'password' },
      aggregator: { name: 'kafka-default', key: 'password' },
      gateway: { name: 'kafka-default', key: 'password' },
      provisioning: { name: 'eric-topics', key: 'password' },
    });
    expect(mixed.filter((m) => m.kind === 'Secret').map((m) => m.metadata.name)).toEqual(['eric-topics']);
    expect(find(mixed, 'Secret', 'eric-topics').stringData).toEqual({ username: 'admin', password: 'a' });

    // Workloads that do not run need no user.
    const noProducerNoJob = helmTemplate([...external, '--set', 'producer.enabled=false', '--set', 'topics.provisioning.enabled=false',
      '--set', 'externalKafka.sasl.users.aggregator.existingSecret=a', '--set', 'externalKafka.sasl.users.gateway.existingSecret=g']);
    expect(noProducerNoJob.stderr).toBe('');
    expect(noProducerNoJob.status).toBe(0);
  });

  it('renders the per-workload values of docs/operations.md with each workload reading its own existing Secret', () => {
    const page = readFileSync(join(root, 'docs/operations.md'), 'utf8');
    const section = page.slice(page.indexOf('## Running against a secured cluster'));
    const file = join(tempDir('operations-values'), 'values.yaml');
    writeFileSync(file, /```yaml\n([\s\S]*?)```/.exec(section)![1]!);
    const list = render(['-f', file]);
    expect(list.filter((m) => m.kind === 'Secret')).toEqual([]);
    const ownSecrets = { producer: 'kafka-user-producer', aggregator: 'kafka-user-aggregator', gateway: 'kafka-user-gateway', provisioning: 'kafka-user-provisioning' };
    expect(secretRefs(list, 'KAFKA_SASL_USERNAME')).toEqual(Object.fromEntries(Object.entries(ownSecrets).map(([workload, name]) => [workload, { name, key: 'username' }])));
  });

  it('lists in the NOTES the ACLs each user needs, with the release\'s names', () => {
    const notes = renderNotes(['-f', join(chartDir, 'ci/external-kafka-sasl-values.yaml'), '--set', 'aggregator.applicationId=shop-counts', '--set', 'topics.visits=shop-visits']);
    const section = notes.slice(notes.indexOf('Kafka ACLs'));
    // The rules scripts/kafka-cluster.sh creates (its acls()), for these names.
    expect(section).toContain([
      '  producer: User:eric-producer',
      '    topic shop-visits (literal): Write, Describe',
      '',
      '  aggregator: User:eric-aggregator',
      '    topics shop-visits, visits-repartition, visit-counts-changelog (literal): Read, Describe',
      '    topics visits-repartition, visit-counts-changelog, active-visitors, visits-dead-letter (literal): Write, Describe',
      '    group shop-counts- (prefixed): Read, Describe',
      '    transactional id shop-counts- (prefixed): Write, Describe',
      '',
      '  gateway: User:eric-gateway',
      '    topic active-visitors (literal): Read, Describe',
      '    group eric-gateway-follower (literal): Read, Describe',
      '',
      '  topic Job: User:eric-admin',
      '    topics shop-visits, visits-repartition, visit-counts-changelog, active-visitors, visits-dead-letter (literal): Create, Alter, Describe',
    ].join('\n'));
    // With the default names, exactly the ACLs scripts/kafka-cluster.sh creates.
    const defaults = renderNotes(['-f', join(chartDir, 'ci/external-kafka-sasl-values.yaml'),
      ...['producer', 'aggregator', 'gateway'].map((user) => `--set=externalKafka.sasl.users.${user}.username=${user}`)]);
    expect(aclsInNotes(defaults).filter((rule) => !rule.startsWith('eric-admin '))).toEqual(aclsOfTheTestCluster());
    const shared = renderNotes([...external, '--set', 'externalKafka.sasl.existingSecret=kafka-default', '--set', 'externalKafka.sasl.users.producer.username=p', '--set', 'externalKafka.sasl.users.producer.password=x']);
    expect(shared).toContain('  producer: User:p\n');
    expect(shared).toContain('  gateway: the user in Secret kafka-default (the default user)\n');
  });

  it('keeps the producer\'s ingest keys in a Secret of their own, and rolls only the producer when they change', () => {
    const keys = 'key-of-account-352-0123456789=352';
    const list = render(['--set', `producer.ingest.keys=${keys}`]);
    const defaults = render();
    expect(find(list, 'Secret', 'eric-producer-ingest-keys').stringData).toEqual({ keys });
    const env = find(list, 'Deployment', 'eric-producer').spec.template.spec.containers[0].env;
    expect(env.find((e: any) => e.name === 'PRODUCER_INGEST_KEYS').valueFrom.secretKeyRef).toEqual({ name: 'eric-producer-ingest-keys', key: 'keys' });
    const checksum = (manifests: Manifest[], name: string) => find(manifests, 'Deployment', name).spec.template.metadata.annotations['checksum/secret'];
    expect(checksum(list, 'eric-producer')).not.toBe(checksum(defaults, 'eric-producer'));
    expect(checksum(list, 'eric-gateway')).toBe(checksum(defaults, 'eric-gateway'));
    // No keys: no Secret, no variable (ingestion open, as the producer's start-up warning says).
    expect(defaults.filter((m) => m.kind === 'Secret' && m.metadata.name === 'eric-producer-ingest-keys')).toEqual([]);
    expect(find(defaults, 'Deployment', 'eric-producer').spec.template.spec.containers[0].env.map((e: any) => e.name)).not.toContain('PRODUCER_INGEST_KEYS');
  });

  it('reads existing Secrets without creating any', () => {
    const list = render(['-f', join(chartDir, 'ci/existing-secrets-values.yaml')]);
    expect(list.filter((m) => m.kind === 'Secret')).toEqual([]);
    const env = find(list, 'Deployment', 'eric-gateway').spec.template.spec.containers[0].env;
    expect(env.find((e: any) => e.name === 'KAFKA_SASL_USERNAME').valueFrom.secretKeyRef).toEqual({ name: 'eric-kafka-credentials', key: 'user' });
    expect(env.find((e: any) => e.name === 'GATEWAY_AUTH_TOKENS').valueFrom.secretKeyRef).toEqual({ name: 'eric-gateway-tokens', key: 'GATEWAY_AUTH_TOKENS' });
    const producerEnv = find(list, 'Deployment', 'eric-producer').spec.template.spec.containers[0].env;
    expect(producerEnv.find((e: any) => e.name === 'PRODUCER_INGEST_KEYS').valueFrom.secretKeyRef).toEqual({ name: 'eric-ingest-keys', key: 'PRODUCER_INGEST_KEYS' });
    expect(jobConfig(list).KAFKA_SASL_USERNAME).toBeUndefined();
    const jobEnv = list.find((m) => m.kind === 'Job')!.spec.template.spec.containers[0].env;
    expect(jobEnv.find((e: any) => e.name === 'KAFKA_SASL_USERNAME').valueFrom.secretKeyRef).toEqual({ name: 'eric-kafka-credentials', key: 'user' });
    expect(find(list, 'Deployment', 'eric-gateway').spec.template.spec.containers[0].image).toBe(
      'registry.example/eric@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    );
  });
});

describe('impossible values fail with a clear message', () => {
  it.each([
    ['both Kafka sources', ['--set', 'externalKafka.bootstrapServers=kafka:9092'], 'choose one'],
    ['no Kafka at all', ['--set', 'kafka.enabled=false'], 'no Kafka: set externalKafka.bootstrapServers'],
    ['SASL without credentials', ['--set', 'kafka.enabled=false', '--set', 'externalKafka.bootstrapServers=k:9092', '--set', 'externalKafka.securityProtocol=sasl_ssl'], 'needs credentials'],
    ['SASL settings on the bundled broker', ['--set', 'externalKafka.securityProtocol=sasl_ssl'], 'the bundled broker speaks plaintext'],
    ['credentials twice', ['--set', 'kafka.enabled=false', '--set', 'externalKafka.bootstrapServers=k:9092', '--set', 'externalKafka.securityProtocol=sasl_ssl', '--set', 'externalKafka.sasl.username=u', '--set', 'externalKafka.sasl.password=p', '--set', 'externalKafka.sasl.existingSecret=s'], 'use one'],
    ['a workload\'s credentials twice', [...external, '--set', 'externalKafka.sasl.existingSecret=s', '--set', 'externalKafka.sasl.users.gateway.username=u', '--set', 'externalKafka.sasl.users.gateway.existingSecret=g'],
      'externalKafka.sasl.users.gateway.existingSecret and externalKafka.sasl.users.gateway.username/password are both set: use one'],
    ['a user without a password', [...external, '--set', 'externalKafka.sasl.existingSecret=s', '--set', 'externalKafka.sasl.users.aggregator.username=u'],
      'externalKafka.sasl.users.aggregator.username and externalKafka.sasl.users.aggregator.password go together'],
    ['some workloads without a user and no default', [...external, '--set', 'externalKafka.sasl.users.producer.existingSecret=p', '--set', 'externalKafka.sasl.users.aggregator.existingSecret=a'],
      'externalKafka.securityProtocol=sasl_ssl needs credentials for gateway, provisioning: set the default user'],
    ['a workload\'s user without SASL', ['--set', 'kafka.enabled=false', '--set', 'externalKafka.bootstrapServers=k:9092', '--set', 'externalKafka.sasl.users.producer.existingSecret=p'],
      'SASL credentials are set but externalKafka.securityProtocol is plaintext'],
    ['a grace period shorter than the shutdown timeout', ['--set', 'aggregator.terminationGracePeriodSeconds=5'], 'must exceed SHUTDOWN_TIMEOUT_MS'],
    ['two topics with one name', ['--set', 'topics.deadLetter=visits'], 'five different names'],
    ['ingest keys twice', ['--set', 'producer.ingest.keys=k', '--set', 'producer.ingest.existingSecret=s'], 'producer.ingest.keys and producer.ingest.existingSecret are both set: use one'],
    ['alerts without scraping', ['--set', 'metrics.prometheusRule.enabled=true'], 'needs metrics.serviceMonitor.enabled'],
    ['a LoadBalancer gateway without tokens', ['--set', 'gateway.service.type=LoadBalancer'], 'gateway.service.type=LoadBalancer exposes the gateway outside the cluster without access control'],
    ['a NodePort gateway without tokens', ['--set', 'gateway.service.type=NodePort'], 'or gateway.auth.allowAnonymous=true'],
    ['an unknown key (schema)', ['--set', 'aggregator.replica=3'], "additional properties 'replica' not allowed"],
    ['an unknown service setting (schema)', ['--set', 'aggregator.config.WINDOW_SECS=5'], "additional properties 'WINDOW_SECS' not allowed"],
    ['a setting the chart manages (schema)', ['--set', 'aggregator.config.PARTITIONS=5'], "additional properties 'PARTITIONS' not allowed"],
    ['a wrong type (schema)', ['--set', 'aggregator.replicas=zero'], 'aggregator/replicas'],
    ['zero aggregators (schema)', ['--set', 'aggregator.replicas=0'], 'minimum'],
  ])('%s', (_name, args, message) => {
    const result = helmTemplate(args as string[]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(message);
  });
});

describe('values are documented', () => {
  const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8'));
  const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8'));

  function leaves(node: any, path: string[] = []): string[][] {
    if (node && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length > 0 && !['resources', 'podSecurityContext', 'securityContext', 'labels'].includes(path.at(-1) ?? '')) {
      return Object.entries(node).flatMap(([key, value]) => leaves(value, [...path, key]));
    }
    return [path];
  }
  const schemaAt = (path: string[]) => path.reduce((node: any, key) => node?.properties?.[key], schema);

  it('every value in values.yaml has a schema entry with a description, and objects reject unknown keys', () => {
    const paths = leaves(values);
    expect(paths.length).toBeGreaterThan(80);
    for (const path of paths) {
      const node = schemaAt(path);
      expect(node, path.join('.')).toBeDefined();
      expect(node.description ?? schemaAt(path.slice(0, -1)).description, path.join('.')).toMatch(/\S/);
    }
    const open: string[] = [];
    (function walk(node: any, path: string) {
      if (node.type === 'object' && node.properties && node.additionalProperties !== false) open.push(path);
      for (const [key, child] of Object.entries(node.properties ?? {})) walk(child, `${path}.${key}`);
    })(schema, '');
    expect(open).toEqual([]);
  });

  it('the service settings the chart accepts are exactly the services\' own variables, minus those the chart sets', () => {
    const managed = new Set(['KAFKA_BROKERS', 'KAFKA_CLIENT_ID', 'KAFKA_SECURITY_PROTOCOL', 'KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SSL_CA_LOCATION', 'KAFKA_REPLICATION_FACTOR', 'HTTP_HOST', 'HTTP_PORT', 'LOG_LEVEL', 'VISITS_PARTITIONS', 'APPLICATION_ID', 'PARTITIONS', 'AGGREGATOR_ORDINAL', 'POD_NAME', 'POD_NAMESPACE', 'STATEFULSET_NAME', 'GATEWAY_AUTH_TOKENS', 'PRODUCER_INGEST_KEYS']);
    const sets: string[][] = [];
    for (const [component, serviceSchema] of [['aggregator', aggregatorConfigSchema], ['gateway', gatewayConfigSchema], ['producer', producerConfigSchema]] as const) {
      const own = describeSchema(serviceSchema).map((row) => row.env!).filter((env) => !managed.has(env) && !env.startsWith('TOPIC_'));
      const accepted = Object.keys(schema.properties[component].properties.config.properties);
      expect(accepted.sort(), component).toEqual(own.sort());
      sets.push(own);
    }
    // One ConfigMap serves all three: their own keys must not collide.
    const all = sets.flat();
    expect(new Set(all).size).toBe(all.length);
  });

  it('docs/kubernetes.md lists every value (scripts/chart-values-table.mjs)', () => {
    const table = run('node', [join(root, 'scripts/chart-values-table.mjs')]);
    expect(table.status).toBe(0);
    const readme = readFileSync(join(root, 'docs/kubernetes.md'), 'utf8');
    expect(readme.includes(table.stdout.trim()), 'docs/kubernetes.md "Chart values" is out of date: run node scripts/chart-values-table.mjs and paste its output').toBe(true);
    for (const path of leaves(values)) expect(table.stdout).toContain(`\`${path.join('.')}\``);
  });
});
