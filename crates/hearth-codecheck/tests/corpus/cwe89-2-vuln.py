# expect: CWE-89
def delete_order(db, order_id):
    query = f"DELETE FROM orders WHERE id = {order_id}"
    db.execute(query)
