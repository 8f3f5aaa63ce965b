// expect: CWE-78
#include <stdio.h>
void print_file(const char *name) {
    char cmd[300];
    sprintf(cmd, "lpr %s", name);
    FILE *p = popen(cmd, "r");
    pclose(p);
}
