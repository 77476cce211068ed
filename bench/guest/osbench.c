/* bench/guest/osbench.c - bt86's OS-heavy guest microbenchmarks (issues 8 and 9): a static i386
 * program of our own, run natively on the host and inside the reference Linux guest under QEMU
 * TCG and each bt86 engine (bench/macro.py drives it). Each test is a loop of one kernel
 * operation; what it costs an emulator is mostly system-level work: syscall entry and exit
 * (SYSENTER through the vDSO, or INT 80h), page faults, page-table and CR3 changes.
 *
 * Tests (an "iteration" is):
 *   getppid    one getppid() system call
 *   forkwait   fork(); the child _exit(0)s; the parent waitpid()s
 *   forkexec   fork(); the child execs this program with "--child" (which exits at once);
 *              the parent waitpid()s
 *   pagefault  one first-touch write fault on an anonymous page (mmap 1 MiB, write each page,
 *              munmap; the mmap/munmap cost is spread over its 256 pages)
 *   mmap       mmap + munmap of 64 KiB anonymous memory, untouched
 *   pipe       a 1-byte round trip between two processes over two pipes
 *
 * Usage: osbench [SCALE] [TEST...]   (SCALE multiplies each test's iteration count, >= 1 runs)
 *        osbench --child             (used by forkexec: exit 0)
 * Output, one line a test:
 *   osbench test=getppid iters=N us_per_iter=X ms=T
 * A failing system call is an error with its name and errno (exit status 1).
 * Build: bench/guest/build.sh (gcc -m32 -static -O2 -march=i686).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *self_path;   /* this program, for forkexec */

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void fail(const char *test, const char *what)
{
    fprintf(stderr, "osbench: %s: %s failed: %s\n", test, what, strerror(errno));
    exit(1);
}

static void wait_child(const char *test, pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            fail(test, "waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "osbench: %s: child ended with status 0x%x\n", test, st);
        exit(1);
    }
}

static void t_getppid(long n)
{
    pid_t p = getppid();
    for (long i = 0; i < n; i++)
        if (syscall(SYS_getppid) != p)           /* syscall(): never a cached value */
            fail("getppid", "getppid");
}

static void t_forkwait(long n)
{
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0)
            fail("forkwait", "fork");
        if (pid == 0)
            _exit(0);
        wait_child("forkwait", pid);
    }
}

static void t_forkexec(long n)
{
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0)
            fail("forkexec", "fork");
        if (pid == 0) {
            execl(self_path, "osbench", "--child", (char *)NULL);
            _exit(127);
        }
        wait_child("forkexec", pid);
    }
}

#define PF_PAGES 256
static void t_pagefault(long n)   /* n = pages touched */
{
    long done = 0;
    while (done < n) {
        long pages = n - done < PF_PAGES ? n - done : PF_PAGES;
        char *p = mmap(NULL, PF_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            fail("pagefault", "mmap");
        for (long k = 0; k < pages; k++)
            ((volatile char *)p)[k * 4096] = (char)k;
        if (munmap(p, PF_PAGES * 4096))
            fail("pagefault", "munmap");
        done += pages;
    }
}

static void t_mmap(long n)
{
    for (long i = 0; i < n; i++) {
        void *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            fail("mmap", "mmap");
        if (munmap(p, 65536))
            fail("mmap", "munmap");
    }
}

static void t_pipe(long n)
{
    int ab[2], ba[2];
    if (pipe(ab) || pipe(ba))
        fail("pipe", "pipe");
    pid_t pid = fork();
    if (pid < 0)
        fail("pipe", "fork");
    if (pid == 0) {                               /* echo every byte back */
        char c;
        close(ab[1]);
        close(ba[0]);
        for (;;) {
            ssize_t r = read(ab[0], &c, 1);
            if (r == 0)
                _exit(0);
            if (r < 0 || write(ba[1], &c, 1) != 1)
                _exit(1);
        }
    }
    close(ab[0]);
    close(ba[1]);
    for (long i = 0; i < n; i++) {
        char c = (char)i, d;
        if (write(ab[1], &c, 1) != 1)
            fail("pipe", "write");
        if (read(ba[0], &d, 1) != 1)
            fail("pipe", "read");
        if (d != c) {
            fprintf(stderr, "osbench: pipe: sent %d, got %d back\n", c, d);
            exit(1);
        }
    }
    close(ab[1]);
    wait_child("pipe", pid);
    close(ba[0]);
}

struct test {
    const char *name;     /* as given on the command line and printed */
    void (*run)(long n);  /* runs n iterations */
    long iters;           /* iterations at SCALE 1 (about 0.3-1 s natively on the project host) */
};

static const struct test tests[] = {
    {"getppid", t_getppid, 4000000},
    {"forkwait", t_forkwait, 6000},
    {"forkexec", t_forkexec, 2000},
    {"pagefault", t_pagefault, 400000},
    {"mmap", t_mmap, 300000},
    {"pipe", t_pipe, 20000},
};
#define NTESTS (sizeof tests / sizeof tests[0])

int main(int argc, char **argv)
{
    double scale = 1.0;
    int want[NTESTS], any = 0, argi = 1;
    if (argc == 2 && strcmp(argv[1], "--child") == 0)
        return 0;
    memset(want, 0, sizeof want);
    self_path = strchr(argv[0], '/') ? argv[0] : "/proc/self/exe";
    if (argc > 1) {
        char *end;
        double s = strtod(argv[1], &end);
        if (end != argv[1] && *end == 0) {
            if (!(s > 0 && s <= 1000)) {
                fprintf(stderr, "osbench: SCALE must be in (0, 1000], not %s\n", argv[1]);
                return 2;
            }
            scale = s;
            argi = 2;
        }
    }
    for (; argi < argc; argi++) {
        size_t k;
        for (k = 0; k < NTESTS; k++)
            if (strcmp(argv[argi], tests[k].name) == 0)
                break;
        if (k == NTESTS) {
            fprintf(stderr, "osbench: unknown test '%s' (tests: getppid forkwait forkexec "
                    "pagefault mmap pipe)\nusage: osbench [SCALE] [TEST...]\n", argv[argi]);
            return 2;
        }
        want[k] = 1;
        any = 1;
    }
    for (size_t k = 0; k < NTESTS; k++) {
        if (any && !want[k])
            continue;
        long n = (long)(tests[k].iters * scale + 0.5);
        if (n < 1)
            n = 1;
        tests[k].run(n > 10 ? n / 10 : 1);        /* warm-up: 10% */
        double t0 = now_us();
        tests[k].run(n);
        double us = now_us() - t0;
        printf("osbench test=%s iters=%ld us_per_iter=%.3f ms=%.1f\n", tests[k].name, n, us / n, us / 1e3);
        fflush(stdout);
    }
    return 0;
}
