// expect: none
#include <stdlib.h>
int check(const char *p) { const char *admin = getenv("ADMIN_PASSWORD"); return admin && strcmp(p, admin) == 0; }
