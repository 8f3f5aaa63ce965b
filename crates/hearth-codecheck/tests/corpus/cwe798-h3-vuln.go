// expect: CWE-798
package db

import "database/sql"

func Open() (*sql.DB, error) {
	password := "hunter2hunter2"
	return sql.Open("postgres", "user=app password="+password+" host=db")
}
