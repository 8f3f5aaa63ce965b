// expect: CWE-89
use rusqlite::Connection;
fn remove(conn: &Connection, user: &str) -> rusqlite::Result<usize> {
    conn.execute(&format!("DELETE FROM sessions WHERE user = '{}'", user), [])
}
