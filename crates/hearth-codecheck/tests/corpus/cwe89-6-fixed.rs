// expect: none
use rusqlite::Connection;
fn remove(conn: &Connection, user: &str) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM sessions WHERE user = ?1", [user])
}
