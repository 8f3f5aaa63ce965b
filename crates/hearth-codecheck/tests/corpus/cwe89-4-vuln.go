// expect: CWE-89
package store

import "database/sql"

func FindUser(db *sql.DB, name string) (*sql.Rows, error) {
	q := "SELECT id, email FROM users WHERE name = '" + name + "'"
	return db.Query(q)
}
