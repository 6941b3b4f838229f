/* LAB TEST DOUBLE launcher: a small static ELF named solo5-hvt (or solo5-spt) that runs the
 * embedded Python tender double with the host's python3. Being a real ELF of the target's arch,
 * it goes through the same arch and version checks as a real tender. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const unsigned char script[] = {
#include "script.inc"
    0};

int main(int argc, char **argv) {
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    setenv("WORKBENCH_LAB_ARGV0", base, 1);
    /* The script goes to python3 through a memfd, so `ps` and `systemctl status` show
     * `python3 -I /proc/self/fd/N ARGS` rather than the whole program text. */
    int fd = memfd_create("solo5-hvt-lab-double", 0);
    size_t len = sizeof script - 1;
    if (fd < 0 || write(fd, script, len) != (ssize_t)len) {
        perror(base);
        return 1;
    }
    char path[32];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    char **args = calloc((size_t)argc + 3, sizeof *args);
    if (!args)
        return 1;
    args[0] = "python3";
    args[1] = "-I";
    args[2] = path;
    for (int i = 1; i < argc; i++)
        args[i + 2] = argv[i];
    execv("/usr/bin/python3", args);
    fprintf(stderr, "%s: the workbench lab tender double needs /usr/bin/python3 on this host\n",
            base);
    return 127;
}
