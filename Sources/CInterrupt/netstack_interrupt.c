#define _GNU_SOURCE
#include "netstack_interrupt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t interrupts = 0;
static int wake_pipe[2] = {-1, -1};

static void on_sigint(int sig) {
    (void)sig;
    int saved = errno;
    interrupts += 1;
    if (interrupts >= 3) _exit(130);
    char c = 'i';
    (void)!write(wake_pipe[1], &c, 1);
    errno = saved;
}

int netstack_interrupt_install(void) {
    if (wake_pipe[0] < 0 && pipe2(wake_pipe, O_CLOEXEC) != 0) return -1;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    /* SIGTERM (what Kubernetes, Slurm and service managers send to stop a process) counts as a
     * SIGINT: a run stopped that way still closes its connections and writes its summary. */
    if (sigaction(SIGINT, &action, NULL) != 0) return -1;
    return sigaction(SIGTERM, &action, NULL) == 0 ? 0 : -1;
}

int netstack_interrupt_count(void) {
    return (int)interrupts;
}

int netstack_interrupt_wait(void) {
    if (wake_pipe[0] < 0) return -1;
    char c;
    for (;;) {
        ssize_t n = read(wake_pipe[0], &c, 1);
        if (n == 1) return (int)interrupts;
        if (n < 0 && errno == EINTR) continue;
        return -1;
    }
}
