# expect: none
def delete_order(db, order_id):
    query = "DELETE FROM orders WHERE id = %s"
    db.execute(query, (order_id,))
