// expect: CWE-22
const express = require('express');
const app = express();
app.get('/files/:name', (req, res) => {
  res.sendFile('/srv/public/' + req.params.name);
});
