// expect: CWE-78
#include <stdio.h>
#include <stdlib.h>
int show(const char *file) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cat %s", file);
    return system(cmd);
}
