# expect: CWE-798
import psycopg2
DB_PASSWORD = "s3cr3t-Passw0rd!"
conn = psycopg2.connect(host="db", user="app", password=DB_PASSWORD)
