# expect: CWE-89
def search(session, term):
    sql = "SELECT title FROM posts WHERE title LIKE '%%%s%%'" % term
    return session.execute(sql).fetchall()
