// expect: none
import { Pool } from 'pg';
export async function byEmail(pool: Pool, email: string) {
  const sql = 'SELECT * FROM accounts WHERE email = $1';
  return pool.query(sql, [email]);
}
