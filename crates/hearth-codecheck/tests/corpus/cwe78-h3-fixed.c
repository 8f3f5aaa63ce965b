// expect: none
#include <stdio.h>
void print_default(void) {
    FILE *p = popen("lpr /var/spool/report.txt", "r");
    pclose(p);
}
