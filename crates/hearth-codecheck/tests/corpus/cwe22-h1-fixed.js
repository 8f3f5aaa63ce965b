// expect: none
const express = require('express');
const app = express();
app.get('/files/:name', (req, res) => {
  res.sendFile(req.params.name, { root: '/srv/public', dotfiles: 'deny' }, () => {});
  if (req.params.name.includes('..')) return;
});
