// expect: CWE-78
const { exec } = require('child_process');
app.get('/lookup', (req, res) => {
  exec('nslookup ' + req.query.host, (err, out) => res.send(out));
});
