/**
 * The node of `scripts/k8s-local.sh up --node`: a pod from an image built on this machine (a
 * static HTTP server compiled with gcc, packed with buildah, imported into the node's containerd;
 * no registry) is scheduled, started by the kubelet through containerd and runc on the CNI
 * bridge, becomes Ready through its readiness probe, and answers `kubectl logs`, `kubectl exec`
 * and `kubectl port-forward` — the API server reaching the kubelet on loopback.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { k8sLocal } from './global-setup.js';
import { cluster, deleteNamespace, eventually, kubectl, uniqueNamespace } from './cluster.js';

const IMAGE = 'localhost/eric-node-test:1';

// Answers every request with "hello from <POD_NAME>"; `server echo words...` prints the words.
const SERVER_C = String.raw`
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void stop(int sig) { (void)sig; _exit(0); }

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "echo") == 0) {
    for (int i = 2; i < argc; i++) printf("%s%s", argv[i], i + 1 < argc ? " " : "\n");
    return 0;
  }
  signal(SIGTERM, stop);
  const char *name = getenv("POD_NAME") ? getenv("POD_NAME") : "?";
  char body[256];
  snprintf(body, sizeof body, "hello from %s", name);
  int server = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(8080), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(server, (struct sockaddr *)&address, sizeof address) != 0 || listen(server, 16) != 0) { perror("listen"); return 1; }
  printf("listening on 8080 as %s\n", name);
  fflush(stdout);
  for (;;) {
    int client = accept(server, NULL, NULL);
    if (client < 0) continue;
    char request[4096];
    if (read(client, request, sizeof request) < 0) { close(client); continue; }
    char response[512];
    int length = snprintf(response, sizeof response,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(body), body);
    if (write(client, response, length) < 0) perror("write");
    close(client);
  }
}
`;

describe('a pod on the node of up --node', () => {
  let namespace = '';
  let forward: ChildProcess | undefined;
  const pod = 'web';

  beforeAll(async () => {
    const work = mkdtempSync(join(tmpdir(), 'eric-node-'));
    try {
      writeFileSync(join(work, 'server.c'), SERVER_C);
      execFileSync('gcc', ['-static', '-Os', '-o', join(work, 'server'), join(work, 'server.c')]);
      const container = execFileSync('buildah', ['from', 'scratch'], { encoding: 'utf8' }).trim();
      execFileSync('buildah', ['copy', container, join(work, 'server'), '/server']);
      execFileSync('buildah', ['config', '--entrypoint', '["/server"]', '--user', '65534:65534', container]);
      execFileSync('buildah', ['commit', '-q', container, IMAGE]);
      execFileSync('buildah', ['rm', container]);
      execFileSync('buildah', ['push', '-q', IMAGE, `oci-archive:${join(work, 'image.tar')}:${IMAGE}`]);
      execFileSync('buildah', ['rmi', IMAGE]);
      k8sLocal(['ctr', 'images', 'import', '--base-name', IMAGE.split(':')[0]!, join(work, 'image.tar')]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    namespace = await uniqueNamespace('node');
  });

  afterAll(async () => {
    forward?.kill('SIGTERM');
    // Deleting the namespace waits until the kubelet has stopped the pod.
    if (namespace) await deleteNamespace(namespace);
  });

  it('runs the pod: Ready through its probe, with logs, exec and port-forward', async () => {
    const { key, value, effect } = cluster.nodeTaint;
    const manifest = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod, namespace },
      spec: {
        tolerations: [{ key, operator: 'Equal', value, effect }],
        terminationGracePeriodSeconds: 5,
        securityContext: { runAsNonRoot: true, runAsUser: 65534 },
        containers: [
          {
            name: 'web',
            image: IMAGE,
            imagePullPolicy: 'Never',
            env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
            ports: [{ name: 'http', containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1 },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          },
        ],
      },
    };
    await kubectl(['apply', '-f', '-'], JSON.stringify(manifest));
    // Ready means: scheduled on the node, sandbox and container started, the kubelet's HTTP
    // probe answered over the pod network.
    await kubectl(['wait', '--namespace', namespace, '--for', 'condition=Ready', `pod/${pod}`, '--timeout', '120s']);
    const live = JSON.parse(await kubectl(['get', 'pod', pod, '--namespace', namespace, '-o', 'json']));
    expect(live.spec.nodeName).toBe('localhost');
    expect(live.status.phase).toBe('Running');
    expect(live.status.podIP).toMatch(/^10\.244\.250\.\d+$/);

    expect(await kubectl(['logs', '--namespace', namespace, pod])).toBe(`listening on 8080 as ${pod}\n`);
    expect(await kubectl(['exec', '--namespace', namespace, pod, '--', '/server', 'echo', 'inside', 'the', 'pod'])).toBe('inside the pod\n');

    forward = spawn(cluster.kubectl, ['port-forward', '--namespace', namespace, `pod/${pod}`, ':8080'], {
      env: { ...process.env, KUBECONFIG: cluster.kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    forward.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    forward.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const port = await eventually('kubectl port-forward listening', async () => /Forwarding from 127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
    const response = await fetch(`http://127.0.0.1:${port}/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(`hello from ${pod}`);
  });
});
