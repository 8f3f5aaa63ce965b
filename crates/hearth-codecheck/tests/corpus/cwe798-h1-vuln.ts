// expect: CWE-798
export const config = {
  dbHost: 'db.internal',
  dbPassword: 'Pr0duction-Pa55',
};
