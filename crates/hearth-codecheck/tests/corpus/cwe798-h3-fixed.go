// expect: none
package db

import (
	"database/sql"
	"os"
)

func Open() (*sql.DB, error) {
	password := os.Getenv("DB_PASSWORD")
	return sql.Open("postgres", "user=app password="+password+" host=db")
}
