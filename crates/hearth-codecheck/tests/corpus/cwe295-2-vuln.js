// expect: CWE-295
const https = require('https');
const agent = new https.Agent({ rejectUnauthorized: false });
