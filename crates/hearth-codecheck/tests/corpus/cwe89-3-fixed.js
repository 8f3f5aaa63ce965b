// expect: none
const mysql = require('mysql');
function getProduct(conn, req, res) {
  const id = req.query.id;
  conn.query('SELECT * FROM products WHERE id = ?', [id], (err, rows) => res.json(rows));
}
