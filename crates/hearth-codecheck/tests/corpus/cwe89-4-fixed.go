// expect: none
package store

import "database/sql"

func FindUser(db *sql.DB, name string) (*sql.Rows, error) {
	q := "SELECT id, email FROM users WHERE name = $1"
	return db.Query(q, name)
}
