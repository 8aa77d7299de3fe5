/**
 * The packaging tools (helm, kubeconform, promtool, the JSON schemas) for the packaging tests.
 * scripts/install-tools.sh installs them into ~/.cache/eric/tools (make test runs it first); when they
 * are missing the first call runs it (a cold install builds helm: a few minutes).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const chartDir = join(root, 'charts/eric');

export interface Tools {
  HELM: string;
  KUBECONFORM: string;
  K8S_SCHEMAS: string;
  KUBERNETES_VERSION: string;
  COMPOSE_SCHEMA: string;
  SKAFFOLD_SCHEMA: string;
  PROMETHEUS: string;
  PROMTOOL: string;
}

let cached: Tools | undefined;

export function tools(): Tools {
  if (cached) return cached;
  const script = join(root, 'scripts/install-tools.sh');
  const read = () =>
    Object.fromEntries(
      execFileSync('bash', [script, '--print'], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((line) => line.split(/=(.*)/s).slice(0, 2)),
    ) as unknown as Tools;
  let found = read();
  const complete = (t: Tools) =>
    [t.HELM, t.KUBECONFORM, t.COMPOSE_SCHEMA, t.SKAFFOLD_SCHEMA, t.PROMTOOL, join(t.K8S_SCHEMAS, '.complete')].every((path) => existsSync(path));
  if (!complete(found)) {
    execFileSync('bash', [script], { stdio: ['ignore', 'inherit', 'inherit'] });
    found = read();
  }
  cached = found;
  return found;
}

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], options: { cwd?: string; input?: string } = {}): Run {
  const result = spawnSync(command, args, { cwd: options.cwd ?? root, input: options.input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** The kube version the chart is rendered for: the one of the schemas it is validated against. */
export function kubeVersion(): string {
  return tools().KUBERNETES_VERSION.replace(/^v/, '');
}

/** `helm template` of the chart; `args` are extra flags such as ['-f', file] or ['--set', 'a=b']. */
export function helmTemplate(args: string[] = [], release = 'eric', namespace = 'eric'): Run {
  return run(tools().HELM, ['template', release, chartDir, '--namespace', namespace, '--kube-version', kubeVersion(), ...args]);
}

export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [key: string]: any };

/** Renders and parses; throws with helm's message when rendering fails. */
export function render(args: string[] = [], release = 'eric', namespace = 'eric'): Manifest[] {
  const result = helmTemplate(args, release, namespace);
  if (result.status !== 0) throw new Error(`helm template failed:\n${result.stderr}`);
  return parseManifests(result.stdout);
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((document) => {
      if (document.errors.length > 0) throw new Error(`invalid YAML from helm: ${document.errors[0]?.message}`);
      return document.toJS() as Manifest | null;
    })
    .filter((manifest): manifest is Manifest => manifest !== null);
}

export function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`);
  return found;
}

export interface Validation {
  status: number;
  resources: Array<{ filename: string; kind: string; name: string; version: string; status: string; msg: string }>;
  summary: { valid: number; invalid: number; errors: number; skipped: number };
}

/**
 * Validates manifests with kubeconform against the strict schemas of scripts/k8s-json-schemas.mjs:
 * unknown fields, wrong types and missing required fields are errors, and so is a kind without
 * a schema (nothing is skipped).
 */
export function kubeconform(yamlText: string): Validation {
  const t = tools();
  const result = run(
    t.KUBECONFORM,
    ['-strict', '-output', 'json', '-verbose', '-schema-location', `${t.K8S_SCHEMAS}/{{ .ResourceKind }}{{ .KindSuffix }}.json`, '-'],
    { input: yamlText },
  );
  const { resources } = JSON.parse(result.stdout) as Pick<Validation, 'resources'>;
  const count = (status: string) => resources.filter((r) => r.status === status).length;
  const summary = { valid: count('statusValid'), invalid: count('statusInvalid'), errors: count('statusError'), skipped: count('statusSkipped') };
  return { status: result.status, resources, summary };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `eric-${prefix}-`));
}

export function ciValuesFiles(): string[] {
  return readdirSync(join(chartDir, 'ci'))
    .filter((name) => name.endsWith('-values.yaml'))
    .sort()
    .map((name) => join(chartDir, 'ci', name));
}

export function readText(path: string): string {
  return readFileSync(join(root, path), 'utf8');
}

export { writeFileSync };

/** A TCP port on 127.0.0.1 that nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
