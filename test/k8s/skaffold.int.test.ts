/**
 * skaffold on the node of `scripts/k8s-local.sh up --node`, with the profile "local" of
 * skaffold.yaml (chosen by the context, eric-local): its custom build runs scripts/image.sh, which
 * builds the image from the Dockerfile with buildah and loads it into the node; the chart is
 * deployed with Helm. `skaffold dev` brings the pipeline up, then rebuilds and redeploys after a
 * change to the dashboard page, which the new gateway pod then serves. (`skaffold run` is the
 * same build and deploy, once.) Its output is kept in .eric/test-logs/skaffold-dev.log.
 *
 * skaffold runs on a copy of the repository (the files git knows), so that the test can change a
 * source file without touching the work tree. It deploys release "eric" into namespace "eric", as
 * skaffold.yaml says; the node's taint is lifted meanwhile, as in pipeline.int.test.ts.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, createWriteStream, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tools } from '../packaging/tools.js';
import { testClusterEnv } from './global-setup.js';
import { GaveUp, cluster, deleteNamespace, eventually, helm, kubectl, kubectlJson, root } from './cluster.js';
import { liftNodeTaint, portForward, restoreNodeTaint } from './release.js';

const namespace = 'eric';
const copy = mkdtempSync(join(tmpdir(), 'eric-skaffold-'));
const bin = join(copy, '.bin');
// skaffold calls helm and kubectl by name; the pinned ones of the tests are put first on PATH.
const env = { ...testClusterEnv, KUBECONFIG: cluster.kubeconfig, PATH: `${bin}:${process.env.PATH}`, SKAFFOLD_UPDATE_CHECK: 'false', SKAFFOLD_COLLECT_METRICS: 'false' };

function skaffold(args: string[]): ChildProcess {
  // Its own process group: an interrupt reaches skaffold and the Docker API stand-in alike.
  return spawn('bash', [join(copy, 'scripts/skaffold.sh'), ...args], { cwd: copy, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
}

function finished(child: ChildProcess, output: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`skaffold exited with ${code}:\n${output().slice(-3000)}`))));
  });
}

/** Why skaffold dev stopped by itself: its exit code and its last lines, where its error is. */
function exitedEarly(dev: ChildProcess, output: string): string {
  return `skaffold dev exited with ${dev.exitCode}; its output ends:\n${output.trim().split('\n').slice(-8).join('\n')}`;
}

async function gatewayPage(): Promise<{ pod: string; page: string }> {
  const [pod] = (await kubectlJson<{ items: any[] }>(['get', 'pods', '--namespace', namespace, '--selector', 'app.kubernetes.io/component=gateway'])).items.filter(
    (p) => !p.metadata.deletionTimestamp && p.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'),
  );
  if (!pod) throw new Error('no gateway pod is Ready');
  const forward = await portForward(namespace, `pod/${pod.metadata.name}`, 6066);
  try {
    const response = await fetch(`http://127.0.0.1:${forward.port}/`, { signal: AbortSignal.timeout(10_000) });
    return { pod: pod.metadata.name, page: await response.text() };
  } finally {
    forward.close();
  }
}

beforeAll(async () => {
  const files = execFileSync('git', ['-C', root, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], { encoding: 'utf8' }).split('\0').filter(Boolean);
  execFileSync('tar', ['-C', root, '--null', '-T', '-', '-cf', join(copy, 'files.tar')], { input: files.join('\0') });
  execFileSync('tar', ['-C', copy, '-xf', join(copy, 'files.tar')]);
  rmSync(join(copy, 'files.tar'));
  mkdirSync(bin);
  symlinkSync(tools().HELM, join(bin, 'helm'));
  symlinkSync(cluster.kubectl, join(bin, 'kubectl'));
  await liftNodeTaint();
}, 120_000);

afterAll(async () => {
  await helm(['uninstall', 'eric', '--namespace', namespace, '--wait', '--timeout', '3m']).catch(() => undefined);
  await deleteNamespace(namespace);
  await restoreNodeTaint();
  rmSync(copy, { recursive: true, force: true });
}, 300_000);

describe('skaffold with the profile for this machine\'s cluster', () => {
  it('skaffold dev builds with buildah, loads the images into the node and deploys the chart; after a change to the dashboard page it redeploys, and the new gateway pod serves it', async () => {
    const started = Date.now();
    const phase = (what: string) => process.stdout.write(`skaffold dev: ${what} after ${Math.round((Date.now() - started) / 1000)} s\n`);
    const dev = skaffold(['dev', '--kube-context', 'eric-local', '--port-forward=off', '--status-check=true']);
    let output = '';
    mkdirSync(join(root, '.eric/test-logs'), { recursive: true });
    const log = createWriteStream(join(root, '.eric/test-logs/skaffold-dev.log'));
    const take = (chunk: Buffer) => {
      output += chunk.toString();
      log.write(chunk);
    };
    dev.stdout!.on('data', take);
    dev.stderr!.on('data', take);
    const exited = finished(dev, () => output);
    exited.catch(() => undefined);
    try {
      const watching = () => output.split('Watching for changes...').length - 1;
      await eventually('skaffold dev deployed and watching', async () => {
        if (dev.exitCode !== null) throw new GaveUp(exitedEarly(dev, output));
        return watching() >= 1 ? true : undefined;
      }, 600_000);
      phase('deployed and watching');
      expect(output).toContain('image: built eric:');
      const release = JSON.parse(await helm(['status', 'eric', '--namespace', namespace, '-o', 'json']));
      expect(release.info.status).toBe('deployed');
      const pods = (await kubectlJson<{ items: any[] }>(['get', 'pods', '--namespace', namespace])).items;
      const gatewayImage = pods.find((p) => p.metadata.labels['app.kubernetes.io/component'] === 'gateway').spec.containers[0].image as string;
      expect(gatewayImage).toMatch(/^eric:\S+$/);
      expect(pods.find((p) => p.metadata.name === 'eric-kafka-0').spec.containers[0].image).toBe('localhost/eric-kafka:4.1.1');
      const before = await gatewayPage();
      expect(before.page).toContain('<html');

      const marker = `skaffold-dev-${Date.now()}`;
      appendFileSync(join(copy, 'services/gateway/public/index.html'), `<!-- ${marker} -->\n`);
      await eventually('skaffold dev rebuilt and redeployed', async () => {
        if (dev.exitCode !== null) throw new GaveUp(exitedEarly(dev, output));
        return watching() >= 2 ? true : undefined;
      }, 600_000);
      phase('rebuilt and redeployed');
      const after = await eventually('the new gateway pod serving the changed page', async () => {
        const page = await gatewayPage();
        return page.page.includes(marker) ? page : undefined;
      }, 120_000);
      expect(after.pod).not.toBe(before.pod);
      expect(before.page).not.toContain(marker);
    } finally {
      // Ctrl-C, as a user stops it: skaffold deletes what it deployed.
      if (dev.exitCode === null) process.kill(-dev.pid!, 'SIGINT');
      await exited.catch(() => undefined);
      log.end();
    }
    await eventually('skaffold dev cleaned up', async () => {
      const releases = JSON.parse(await helm(['list', '--namespace', namespace, '-o', 'json']));
      return releases.length === 0 ? true : undefined;
    }, 180_000);
    phase('cleaned up');
  }, 1_500_000);
});
