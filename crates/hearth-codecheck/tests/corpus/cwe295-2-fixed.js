// expect: none
const https = require('https');
const agent = new https.Agent({ ca: fs.readFileSync('ca.pem') });
