// expect: CWE-89
import { Pool } from 'pg';
export async function byEmail(pool: Pool, email: string) {
  const sql = "SELECT * FROM accounts WHERE email = '" + email + "'";
  return pool.query(sql);
}
