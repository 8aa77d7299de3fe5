/**
 * docker-compose.yml and skaffold.yaml against their published JSON schemas (compose-spec from
 * compose-go, skaffold's own v4beta schema), and the facts they must agree on with the chart
 * and the Dockerfile.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { find, readText, render, root, tools } from './tools.js';

type Validate = ((data: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string; params: unknown }> | null };

function compile(schemaPath: string, draft2020: boolean): Validate {
  const ajv = draft2020 ? new Ajv2020.default({ strict: false, allErrors: true }) : new Ajv.default({ strict: false, allErrors: true });
  addFormats.default(ajv as any);
  return ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8'))) as Validate;
}

const errorsOf = (validate: Validate) => (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);

let compose: any;
let validateCompose: Validate;
let skaffold: any;
let validateSkaffold: Validate;

beforeAll(() => {
  const t = tools();
  // Compose resolves YAML merge keys (<<: *eric) before it applies the schema; so do we.
  compose = parse(readText('docker-compose.yml'), { merge: true });
  validateCompose = compile(t.COMPOSE_SCHEMA, true);
  skaffold = parse(readText('skaffold.yaml'));
  validateSkaffold = compile(t.SKAFFOLD_SCHEMA, false);
}, 900_000);

describe('docker-compose.yml', () => {
  it('is valid against the compose-spec schema', () => {
    expect(validateCompose(compose), errorsOf(validateCompose).join('\n')).toBe(true);
  });

  it('the schema check rejects an unknown key (the validator works)', () => {
    const broken = structuredClone(compose);
    broken.services.gateway.helthcheck = broken.services.gateway.healthcheck;
    expect(validateCompose(broken)).toBe(false);
    expect(errorsOf(validateCompose).join('\n')).toContain('helthcheck');
  });

  it('runs Kafka in KRaft mode with a healthcheck that the topic init waits for', () => {
    const kafka = compose.services.kafka;
    expect(kafka.image).toMatch(/^apache\/kafka:\d/);
    expect(kafka.environment.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(kafka.healthcheck.test.join(' ')).toContain('kafka-broker-api-versions.sh');
    expect(compose.services.topics.depends_on.kafka.condition).toBe('service_healthy');
    for (const name of ['producer', 'aggregator-0', 'gateway']) {
      expect(compose.services[name].depends_on.topics.condition).toBe('service_completed_successfully');
    }
  });

  it('runs four aggregators with ordinals 0..3 and PARTITIONS=4, and provisions topics as the chart does: the aggregator\'s provision command with the aggregators\' settings', () => {
    const aggregators = Object.entries(compose.services).filter(([name]) => name.startsWith('aggregator-')) as Array<[string, any]>;
    expect(aggregators.map(([, service]) => service.environment.AGGREGATOR_ORDINAL).sort()).toEqual(['0', '1', '2', '3']);
    for (const [, service] of aggregators) {
      expect(service.environment.PARTITIONS).toBe('4');
      expect(service.command).toEqual(['node', 'services/aggregator/dist/start.cjs']);
    }
    const topics = compose.services.topics;
    const job = find(render(['--set', 'aggregator.replicas=4']), 'Job', 'eric-topics');
    expect(topics.command).toEqual(job.spec.template.spec.containers[0].command);
    const { AGGREGATOR_ORDINAL: _ordinal, ...aggregatorSettings } = aggregators[0]![1].environment;
    expect(topics.environment).toMatchObject(aggregatorSettings);
  });

  it('hardens the Eric containers like the chart and provisions Grafana with the chart\'s dashboard', () => {
    for (const name of ['producer', 'aggregator-0', 'gateway', 'topics']) {
      const service = compose.services[name];
      expect(service.build.context).toBe('.');
      expect(service).toMatchObject({ read_only: true, user: '1000:1000', cap_drop: ['ALL'] });
    }
    expect(compose.services.gateway.ports).toContain('127.0.0.1:6066:6066');
    expect(compose.services.grafana.volumes).toContain('./charts/eric/dashboards:/var/lib/grafana/dashboards/eric:ro');
    for (const volume of [...compose.services.grafana.volumes, ...compose.services.prometheus.volumes]) {
      expect(existsSync(join(root, volume.split(':')[0])), volume).toBe(true);
    }
    const prometheus = parse(readText('deploy/prometheus.yml'));
    expect(prometheus.scrape_configs.map((job: any) => job.job_name)).toEqual(['aggregator', 'gateway', 'producer']);
  });
});

describe('skaffold.yaml', () => {
  /** A profile's JSON patches applied to the base config ("add" and "remove", which is all we use). */
  function withProfile(name: string) {
    const config = structuredClone(skaffold);
    const profile = config.profiles.find((p: any) => p.name === name);
    for (const patch of profile.patches ?? []) {
      expect(['add', 'remove']).toContain(patch.op);
      const parts = patch.path.split('/').slice(1);
      const last = parts.pop();
      const parent = parts.reduce((node: any, key: string) => node[key], config);
      if (patch.op === 'remove') {
        expect(parent[last], patch.path).toBeDefined();
        delete parent[last];
      } else if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, patch.value);
      else parent[last] = patch.value;
    }
    delete config.profiles;
    return config;
  }

  it('is valid against skaffold\'s own schema for its apiVersion, with each profile applied too', () => {
    expect(skaffold.apiVersion).toBe(`skaffold/${tools().SKAFFOLD_SCHEMA.match(/skaffold-(v4beta\d+)\.json$/)![1]}`);
    expect(validateSkaffold(skaffold), errorsOf(validateSkaffold).join('\n')).toBe(true);
    for (const profile of skaffold.profiles) {
      const applied = withProfile(profile.name);
      expect(validateSkaffold(applied), `${profile.name}: ${errorsOf(validateSkaffold).join('\n')}`).toBe(true);
    }
    const broken = structuredClone(skaffold);
    broken.deploy.helm.releases[0].chartPth = 'charts/eric';
    expect(validateSkaffold(broken)).toBe(false);
  });

  it('builds one artifact from the Dockerfile and deploys the chart with Helm, repo and tag from the build (no digest)', () => {
    expect(skaffold.build.artifacts).toEqual([{ image: 'eric', context: '.', docker: { dockerfile: 'Dockerfile' } }]);
    const [release] = skaffold.deploy.helm.releases;
    expect(release.chartPath).toBe('charts/eric');
    expect(release.setValueTemplates).toEqual({ 'image.repository': '{{.IMAGE_REPO_eric}}', 'image.tag': '{{.IMAGE_TAG_eric}}' });
    expect(JSON.stringify(skaffold)).not.toContain('IMAGE_DIGEST');
    for (const file of release.valuesFiles) expect(existsSync(join(root, file)), file).toBe(true);
    expect(skaffold.portForward).toContainEqual({ resourceType: 'service', resourceName: 'eric-gateway', namespace: 'eric', port: 6066, localPort: 6066 });
    expect(skaffold.profiles.map((p: any) => p.name)).toEqual(expect.arrayContaining(['kind', 'minikube', 'monitoring']));
    const monitoring = withProfile('monitoring');
    expect(monitoring.deploy.helm.releases.map((r: any) => r.name)).toEqual(['kube-prometheus-stack', 'eric']);
    expect(monitoring.portForward.map((p: any) => p.resourceName)).toContain('kube-prometheus-stack-grafana');
    for (const file of monitoring.deploy.helm.releases.flatMap((r: any) => r.valuesFiles)) expect(existsSync(join(root, file)), file).toBe(true);
  });

  it('the kind cluster is named so that its context activates the kind profile', () => {
    const cluster = parse(readText('k8s/kind-cluster.yaml'));
    expect(cluster).toMatchObject({ kind: 'Cluster', apiVersion: 'kind.x-k8s.io/v1alpha4' });
    const kind = skaffold.profiles.find((p: any) => p.name === 'kind');
    expect(kind.activation).toEqual([{ kubeContext: `kind-${cluster.name}` }]);
  });

  it('the local profile builds with scripts/image.sh for the cluster of scripts/k8s-local.sh, and the bundled broker runs the local broker image', () => {
    const local = skaffold.profiles.find((p: any) => p.name === 'local');
    const context = readText('scripts/k8s-local.sh').match(/current-context: (\S+)/)![1];
    expect(local.activation).toEqual([{ kubeContext: context }]);
    const applied = withProfile('local');
    const image = readText('scripts/image.sh');
    expect(image).toMatch(/^\s+skaffold\) skaffold_build ;;$/m);
    // skaffold reads the Dockerfile's base images to find its dependencies: the local ones.
    const [nodeVersion, suite] = [/^NODE_VERSION=(\S+)$/m, /^SUITE=(\S+)$/m].map((pattern) => image.match(pattern)![1]);
    const buildArgs = { NODE_IMAGE: `localhost/eric-node:${nodeVersion}-${suite}`, BASE_IMAGE: `localhost/eric-debian:${suite}` };
    expect(applied.build.artifacts).toEqual([
      { image: 'eric', context: '.', custom: { buildCommand: 'scripts/image.sh skaffold', dependencies: { dockerfile: { path: 'Dockerfile', buildArgs } } } },
    ]);
    const kafkaVersion = readText('scripts/kafka.sh').match(/^KAFKA_VERSION="\$\{KAFKA_VERSION:-(.+)\}"$/m)![1];
    expect(applied.deploy.helm.releases[0].setValues).toMatchObject({
      'kafka.image.repository': image.match(/^KAFKA_IMAGE="\$\{KAFKA_IMAGE:-(.+)\}"$/m)![1],
      'kafka.image.tag': kafkaVersion,
      'image.pullPolicy': 'Never',
      'kafka.image.pullPolicy': 'Never',
    });
  });

  it('kube-prometheus-stack picks up every ServiceMonitor and rule, and Grafana the dashboard label the chart sets', () => {
    const values = parse(readText('k8s/kube-prometheus-stack-values.yaml'));
    expect(values.prometheus.prometheusSpec).toMatchObject({ serviceMonitorSelectorNilUsesHelmValues: false, ruleSelectorNilUsesHelmValues: false });
    const chartLabels = parse(readText('charts/eric/values.yaml')).metrics.dashboard.labels;
    expect({ [values.grafana.sidecar.dashboards.label]: values.grafana.sidecar.dashboards.labelValue }).toEqual(chartLabels);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readText('Dockerfile');

  it('builds the native client inside from Debian packages, never from a host node_modules', () => {
    expect(dockerfile).toMatch(/CKJS_LINKING=dynamic/);
    for (const pkg of ['zlib1g-dev', 'libssl-dev', 'libzstd-dev', 'liblz4-dev', 'libsasl2-dev', 'libcurl4-openssl-dev']) expect(dockerfile).toContain(pkg);
    expect(dockerfile).toContain('npm ci');
    expect(dockerfile).toContain('npm prune --omit=dev');
    const ignored = readText('.dockerignore').split('\n');
    expect(ignored).toContain('**/node_modules');
    expect(ignored).toContain('**/dist');
    for (const line of dockerfile.split('\n').filter((l) => /^COPY (?!--from)/.test(l))) expect(line).not.toMatch(/node_modules|dist/);
  });

  it('compiles only TypeScript projects that the build context contains', () => {
    const built = dockerfile.match(/npx tsc --build ([^\\\n]+)/)![1]!.trim().split(/\s+/);
    expect(built.sort()).toEqual(['services/aggregator', 'services/gateway', 'services/producer']);
    const seen = new Set<string>();
    const visit = (project: string) => {
      if (seen.has(project)) return;
      seen.add(project);
      // Its tsconfig.json and src/ are copied into the build stage (.dockerignore cuts test/, bench/).
      expect(project, `${project} is not in the image's build context`).toMatch(/^services\/[a-z]+$/);
      const copiedWhole = dockerfile.includes(`\nCOPY ${project}/ ${project}/\n`);
      const copiedParts = dockerfile.includes(`\nCOPY ${project}/tsconfig.json ${project}/\n`) && dockerfile.includes(`\nCOPY ${project}/src/ ${project}/src/\n`);
      expect(copiedWhole || copiedParts, `${project}'s sources are not copied into the build stage`).toBe(true);
      const config = JSON.parse(readText(`${project}/tsconfig.json`));
      expect(config.include, project).toEqual(['src']);
      for (const reference of config.references ?? []) visit(join(project, reference.path).replace(/\/$/, ''));
    };
    for (const project of built) visit(project);
    expect(seen.has('services/shared')).toBe(true);
  });

  it('ships no benchmark and no test helper: the services\' src/ imports neither', () => {
    expect(readText('.dockerignore').split('\n')).toEqual(expect.arrayContaining(['services/*/test', 'services/*/bench']));
    const sources = (dir: string): string[] =>
      readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []));
    for (const service of ['aggregator', 'gateway', 'producer']) {
      const files = sources(`services/${service}/src`);
      expect(files.filter((file) => /\/bench\//.test(file)), service).toEqual([]);
      for (const file of files) expect(readText(file), file).not.toMatch(/from '(@eric\/shared\/testing[^']*|[^']*\/test\/[^']*)'/);
    }
  });

  it('runs as a numeric non-root user, and every command the chart and compose run exists in the image', () => {
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    const copied = [...dockerfile.matchAll(/^COPY --from=build \S+ \/app\/(\S+) /gm)].map((m) => m[1]!);
    const commands = new Set<string>();
    for (const template of ['aggregator-statefulset.yaml', 'gateway-deployment.yaml', 'producer-deployment.yaml', 'topics-job.yaml']) {
      const command = readText(`charts/eric/templates/${template}`).match(/command: \["node", "([^"]+)"\]/)![1]!;
      commands.add(command);
    }
    for (const service of Object.values(compose.services) as any[]) if (service.command?.[0] === 'node' && !service.command[1].startsWith('/')) commands.add(service.command[1]);
    expect([...commands].sort()).toEqual(['services/aggregator/dist/provision.js', 'services/aggregator/dist/start.cjs', 'services/gateway/dist/main.js', 'services/producer/dist/main.js']);
    for (const command of commands) {
      expect(copied.some((path) => command.startsWith(path)), command).toBe(true);
      // The compiled entry point comes from a source file of the same name (.js from .ts, .cjs from .cts).
      expect(existsSync(join(root, command.replace('/dist/', '/src/').replace(/\.(c?)js$/, '.$1ts'))), command).toBe(true);
    }
    // The dashboard page, from the build context, in the runtime stage's last layer.
    expect(dockerfile).toMatch(/^COPY --chown=root:root services\/gateway\/public\/ services\/gateway\/public\/$/m);
  });
});
