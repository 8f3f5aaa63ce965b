// expect: none
fetch('https://internal.example.com/api');
