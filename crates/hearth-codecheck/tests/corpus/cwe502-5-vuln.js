// expect: CWE-502
const serialize = require('node-serialize');
app.post('/profile', (req, res) => {
  const profile = serialize.unserialize(req.cookies.profile);
  res.json(profile);
});
