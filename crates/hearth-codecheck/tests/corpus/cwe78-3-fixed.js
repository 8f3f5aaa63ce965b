// expect: none
const { execFile } = require('child_process');
app.get('/lookup', (req, res) => {
  execFile('nslookup', [req.query.host], (err, out) => res.send(out));
});
