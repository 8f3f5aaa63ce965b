// expect: none
const client = new Stripe({ apiKey: process.env.STRIPE_API_KEY });
