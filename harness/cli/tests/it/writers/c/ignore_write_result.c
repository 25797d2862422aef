/* A durable replace that trusts write(2) to write everything: its return value is ignored, so a
 * short write (or ENOSPC) publishes a truncated file. Built by the io_errors tests with cc. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *target = argc > 1 ? argv[1] : getenv("TORTURE_TARGET");
    const char *generation = getenv("TORTURE_GENERATION");
    if (target == NULL) return 2;
    static char text[8192];
    int len = 0;
    len += snprintf(text + len, sizeof text - len, "{\"generation\": %s, \"records\": [",
                    generation ? generation : "1");
    for (int i = 0; i < 200; i++)
        len += snprintf(text + len, sizeof text - len, "%s%d", i ? ", " : "", i);
    len += snprintf(text + len, sizeof text - len, "]}\n");
    char temp[4096];
    snprintf(temp, sizeof temp, "%s.tmp", target);
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 1;
    write(fd, text, len); /* the bug: neither a short count nor -1 is looked at */
    if (fsync(fd) != 0) return 1;
    if (close(fd) != 0) return 1;
    if (rename(temp, target) != 0) return 1;
    char dir[4096];
    strncpy(dir, target, sizeof dir - 1);
    dir[sizeof dir - 1] = 0;
    char *slash = strrchr(dir, '/');
    if (slash != NULL) *slash = 0;
    int dir_fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
    if (dir_fd < 0 || fsync(dir_fd) != 0) return 1;
    close(dir_fd);
    return 0;
}
