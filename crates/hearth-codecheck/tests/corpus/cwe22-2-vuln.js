// expect: CWE-22
const fs = require('fs');
const path = require('path');
app.get('/doc', (req, res) => {
  const data = fs.readFileSync(path.join(__dirname, 'docs', req.query.name));
  res.send(data);
});
