// expect: CWE-295
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
fetch('https://internal.example.com/api');
