// expect: none
export const config = {
  dbHost: 'db.internal',
  dbPassword: process.env.DB_PASSWORD ?? '',
};
