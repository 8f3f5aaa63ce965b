// expect: none
#include <stdio.h>
#include <sqlite3.h>
int find(sqlite3 *db, const char *name) {
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT * FROM users WHERE name = ?", -1, &st, NULL);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    return sqlite3_step(st);
}
