/*
 * The pod sandbox ("pause") process of scripts/k8s-local.sh's node: it holds the pod's namespaces
 * open, reaps orphaned children and exits on SIGINT or SIGTERM. The same job as Kubernetes' own
 * pause image, whose registry this machine cannot reach; built statically with gcc and packed into
 * an image with buildah.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction on_stop = {.sa_handler = stop};
  struct sigaction on_child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
  sigaction(SIGINT, &on_stop, NULL);
  sigaction(SIGTERM, &on_stop, NULL);
  sigaction(SIGCHLD, &on_child, NULL);
  for (;;) pause();
}
