// expect: CWE-798
const client = new Stripe({ apiKey: 'sk_test_51HxQ2bK9vLmN3pQ7rS' });
