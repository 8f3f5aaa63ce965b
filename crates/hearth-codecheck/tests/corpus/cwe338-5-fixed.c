// expect: none
#include <sys/random.h>
unsigned int make_session_key(void) {
    unsigned int k;
    getrandom(&k, sizeof k, 0);
    return k;
}
