// expect: none
const ALLOWED = new Set(['api.example.com']);
app.get('/proxy', async (req, res) => {
  const u = new URL(req.query.target);
  if (!ALLOWED.has(u.hostname)) return res.sendStatus(403);
  const r = await fetch(u);
  res.send(await r.text());
});
