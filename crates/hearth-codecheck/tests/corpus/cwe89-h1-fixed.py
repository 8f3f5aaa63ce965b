# expect: none
from sqlalchemy import text
def search(session, term):
    return session.execute(text("SELECT title FROM posts WHERE title LIKE :t"), {"t": f"%{term}%"}).fetchall()
