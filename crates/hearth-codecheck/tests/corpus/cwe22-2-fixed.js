// expect: none
const fs = require('fs');
const path = require('path');
app.get('/doc', (req, res) => {
  const name = path.basename(req.query.name);
  const data = fs.readFileSync(path.join(__dirname, 'docs', name));
  res.send(data);
});
