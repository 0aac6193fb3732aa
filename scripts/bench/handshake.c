/* The C baseline for scripts/bench-overhead: the same work as the scenario
 * harness/fork_pipe_handshake (a fork, a one-byte pipe handshake, a wait),
 * timed per iteration. Prints the median in microseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 200;
    double *us = calloc(n, sizeof *us);
    for (int i = 0; i < n; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int p[2];
        if (pipe(p) != 0) return 1;
        pid_t pid = fork();
        if (pid < 0) return 1;
        if (pid == 0) {
            close(p[0]);
            _exit(write(p[1], "!", 1) == 1 ? 0 : 1);
        }
        close(p[1]);
        char c;
        if (read(p[0], &c, 1) != 1 || c != '!') return 1;
        close(p[0]);
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        us[i] = (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3;
    }
    qsort(us, n, sizeof *us, cmp);
    printf("%.1f\n", us[n / 2]);
    return 0;
}
