// expect: none
package repo

import "database/sql"

func Count(db *sql.DB, owner string) *sql.Row {
	return db.QueryRow("SELECT count(*) FROM items WHERE owner = ?", owner)
}
