// expect: CWE-89
package repo

import (
	"database/sql"
	"fmt"
)

func Count(db *sql.DB, table string, owner string) *sql.Row {
	return db.QueryRow(fmt.Sprintf("SELECT count(*) FROM items WHERE owner = '%s'", owner))
}
